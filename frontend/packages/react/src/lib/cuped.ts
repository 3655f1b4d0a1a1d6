/**
 * Words for CUPED, the regression adjustment on the users' pre-experiment values that the server
 * applies to a metric when assignments carry covariates (the snapshot's per-metric and per-treatment
 * `cuped`: {theta, variance_reduction}).
 *
 * The badge says how much of the lift estimate's variance the adjustment removed, in whole
 * percent: 0.31 -> "CUPED: −31% variance". A reduction that is 0, negative or under half a percent
 * (so it would round to 0 %) reads "CUPED: no variance reduction"; an unknown one (null: not
 * computable yet) just "CUPED". The tooltip explains the adjustment and gives θ.
 */
import type { CupedInfo, MetricResult, MetricVariantResult, VariantResult } from "@expstream/client";
import { MINUS_SIGN, formatDecimal } from "./format";
import { isControlKey, variantName } from "./metrics";

const LOCALE = "en-US";

/** The share of variance removed in whole percent (0.31 -> 31), or 0 when there was none to speak of; null when unknown. */
export function varianceReductionPercent(cuped: Pick<CupedInfo, "variance_reduction">): number | null {
  const reduction = cuped.variance_reduction;
  if (reduction === null || !Number.isFinite(reduction)) return null;
  return Math.max(0, Math.round(reduction * 100));
}

/** θ for people: two decimals ("0.41", "12.35", "−0.40"), two significant digits when smaller than 0.01 ("0.0042"). */
export function formatTheta(theta: number): string {
  if (theta === 0 || Math.abs(theta) >= 0.01) return formatDecimal(theta, 2);
  if (!Number.isFinite(theta)) return formatDecimal(theta);
  const text = new Intl.NumberFormat(LOCALE, { maximumSignificantDigits: 2 }).format(Math.abs(theta));
  return `${theta < 0 ? MINUS_SIGN : ""}${text}`;
}

/** "CUPED: −31% variance", "CUPED: no variance reduction", or "CUPED" when the reduction is unknown. */
export function cupedLabel(cuped: CupedInfo): string {
  const percent = varianceReductionPercent(cuped);
  if (percent === null) return "CUPED";
  return percent > 0 ? `CUPED: ${MINUS_SIGN}${percent}% variance` : "CUPED: no variance reduction";
}

const ADJUSTED = "Regression-adjusted on the users\u2019 pre-experiment values (CUPED";

/**
 * The tooltip: "Regression-adjusted on the users' pre-experiment values (CUPED, θ = 0.41): the
 * lift's variance is 31% lower, so its interval is narrower."
 */
export function cupedTitle(cuped: CupedInfo): string {
  const percent = varianceReductionPercent(cuped);
  const head = `${ADJUSTED}, \u03b8 = ${formatTheta(cuped.theta)})`;
  if (percent === null) return `${head}; its variance reduction cannot be computed yet.`;
  if (percent === 0) return `${head}; here the adjustment did not reduce the lift\u2019s variance.`;
  return `${head}: the lift\u2019s variance is ${percent}% lower, so its interval is narrower.`;
}

/** A badge or row note: its text and tooltip. */
export interface CupedNote {
  text: string;
  title: string;
}

/** What a metric card shows of CUPED: a badge in its header, and per treatment a row note when treatments differ. */
export interface CupedDisplay {
  /** Null when the server did not adjust the metric (or sent no `cuped`): the card looks as before. */
  badge: CupedNote | null;
  /** Treatment key -> its note; empty unless treatments were adjusted differently. */
  rows: ReadonlyMap<string, CupedNote>;
}

const NO_CUPED: CupedDisplay = { badge: null, rows: new Map() };

function note(cuped: CupedInfo): CupedNote {
  return { text: cupedLabel(cuped), title: cupedTitle(cuped) };
}

/** What a reader would see of one treatment's adjustment: equal keys look the same. */
function shownAs(cuped: CupedInfo | null | undefined): string {
  return cuped ? `${cupedLabel(cuped)} \u03b8=${formatTheta(cuped.theta)}` : "none";
}

/**
 * The CUPED badge and row notes of a metric card. With one treatment, or several adjusted alike
 * (same rounded reduction and θ), one badge: "CUPED: −31% variance". When treatments differ (or
 * some are adjusted and others not), the badge says "CUPED" (its tooltip lists every treatment)
 * and each adjusted treatment's row gets its own note. A metric without `cuped` anywhere, or
 * with null everywhere, gets nothing.
 */
export function cupedDisplay(
  metric: Pick<MetricResult, "cuped" | "variants">,
  variants: readonly Pick<VariantResult, "key" | "name" | "is_control">[],
): CupedDisplay {
  const treatments = metric.variants.filter((variant) => !isControlKey(variants, variant.key));
  const sent = treatments.filter((variant) => variant.cuped !== undefined);
  const adjusted = sent.filter((variant): variant is MetricVariantResult & { cuped: CupedInfo } => !!variant.cuped);
  const first = metric.cuped ?? adjusted[0]?.cuped;
  if (!first) return NO_CUPED;
  const looks = new Set(sent.map((variant) => shownAs(variant.cuped)));
  if (adjusted.length === 0 || looks.size <= 1) return { badge: note(first), rows: new Map() };
  const perTreatment = sent
    .map((variant) => {
      const name = variantName(variants, variant.key);
      if (!variant.cuped) return `${name}: not adjusted`;
      const percent = varianceReductionPercent(variant.cuped);
      const reduction =
        percent === null ? "reduction unknown" : percent > 0 ? `${percent}% less variance` : "no variance reduction";
      return `${name}: \u03b8 = ${formatTheta(variant.cuped.theta)}, ${reduction}`;
    })
    .join("; ");
  return {
    badge: { text: "CUPED", title: `${ADJUSTED}) per treatment. ${perTreatment}.` },
    rows: new Map(adjusted.map((variant) => [variant.key, note(variant.cuped)])),
  };
}
