import type { VariantResult } from "@/types/snapshot";

/** A variant counts as significant when its p-value is below this. */
export const SIGNIFICANCE_THRESHOLD = 0.05;

export type VariantVerdict = "control" | "significant" | "not_significant";

export function variantVerdict(variant: Pick<VariantResult, "is_control" | "p_value">): VariantVerdict {
  if (variant.is_control) return "control";
  if (variant.p_value !== null && Number.isFinite(variant.p_value) && variant.p_value < SIGNIFICANCE_THRESHOLD) {
    return "significant";
  }
  return "not_significant";
}

export const VERDICT_LABELS: Record<VariantVerdict, string> = {
  control: "control",
  significant: "significant",
  not_significant: "not significant",
};
