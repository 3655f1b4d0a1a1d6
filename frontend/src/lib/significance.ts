import type { VariantResult } from "@/types/snapshot";

/** Fallback for servers without per-variant `is_significant`: significant when p is below this. */
export const SIGNIFICANCE_THRESHOLD = 0.05;

export type VariantVerdict = "control" | "significant" | "not_significant";

/**
 * The Status column. Uses the server's per-variant `is_significant` (which
 * accounts for the analysis method and the Holm correction); only when it is
 * absent, p < 0.05.
 */
export function variantVerdict(variant: Pick<VariantResult, "is_control" | "p_value" | "is_significant">): VariantVerdict {
  if (variant.is_control) return "control";
  if (typeof variant.is_significant === "boolean") {
    return variant.is_significant ? "significant" : "not_significant";
  }
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
