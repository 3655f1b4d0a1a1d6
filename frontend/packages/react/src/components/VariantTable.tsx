import type { AnalysisInfo, MetricResult, VariantResult } from "@expstream/client";
import {
  adjustedPValueLabel,
  adjustedPValueTitle,
  comparisonFamily,
  countTreatments,
  shownPValue,
  usesAdjustedPValues,
} from "../lib/analysis";
import { formatChance, formatInteger, formatLift, formatPValue, formatPercent } from "../lib/format";
import { VERDICT_LABELS, intervalEffect, liftEffect, variantVerdict } from "../lib/significance";
import { effectClass } from "./effectClass";
import { LiftInterval } from "./LiftInterval";
import { classNames as styles } from "../classNames";

export interface VariantTableProps {
  variants: VariantResult[];
  /** The snapshot's analysis; decides whether the P-value column shows adjusted values (Holm, BH, …). */
  analysis?: AnalysisInfo | null;
  /**
   * The snapshot's metrics, when it has them: the server then corrects across every tested
   * metric × treatment, so even a single treatment can have adjusted p-values.
   */
  metrics?: readonly Pick<MetricResult, "role">[] | null;
}

/**
 * Name | Participants | Conversions | Rate | Lift | Lift CI | P-value | Chance to win | Status,
 * one row per variant. Fits a 1280 px wide page: when space runs short a variant's key moves
 * under its name and a wide lift interval breaks after its ellipsis; narrower screens scroll
 * the table inside its card.
 */
export function VariantTable({ variants, analysis, metrics }: VariantTableProps) {
  const family = comparisonFamily(countTreatments(variants), metrics);
  const adjusted = usesAdjustedPValues(analysis, family);
  const adjustedLabel = adjustedPValueLabel(analysis, family);
  return (
    <div className={`${styles.card} ${styles.tableScroll}`}>
      <table className={`${styles.table} ${styles.resultsTable}`} data-testid="variant-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className={styles.num}>
              Participants
            </th>
            <th scope="col" className={styles.num}>
              Conversions
            </th>
            <th scope="col" className={styles.num}>
              Rate
            </th>
            <th scope="col" className={styles.num}>
              Lift
            </th>
            <th scope="col" className={styles.num} title="Confidence interval of the relative lift">
              Lift CI
            </th>
            <th
              scope="col"
              className={styles.num}
              data-testid="p-value-header"
              title={adjustedPValueTitle(analysis, family)}
            >
              <span className={styles.noWrap}>P-value</span>
              {adjustedLabel && ` (${adjustedLabel})`}
            </th>
            <th scope="col" className={styles.num} title="Probability that the variant beats the control">
              Chance to win
            </th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {variants.map((variant) => {
            const verdict = variantVerdict(variant);
            return (
              <tr key={variant.key} data-testid="variant-row" data-variant-key={variant.key}>
                <th scope="row">
                  <span className={styles.variantName}>{variant.name}</span>{" "}
                  <span className={styles.variantKey}>{variant.key}</span>
                </th>
                <td className={styles.num} data-testid="variant-participants">
                  {formatInteger(variant.participant_count)}
                </td>
                <td className={styles.num} data-testid="variant-conversions">
                  {formatInteger(variant.conversion_count)}
                </td>
                <td className={styles.num} data-testid="variant-rate">
                  {formatPercent(variant.conversion_rate)}
                </td>
                <td className={`${styles.num} ${effectClass(liftEffect(variant.relative_lift))}`} data-testid="variant-lift">
                  {formatLift(variant.relative_lift)}
                </td>
                <td className={`${styles.num} ${styles.interval} ${effectClass(intervalEffect(variant.lift_ci))}`} data-testid="variant-lift-ci">
                  <LiftInterval interval={variant.lift_ci} />
                </td>
                <td className={styles.num} data-testid="variant-p-value">
                  {formatPValue(shownPValue(variant, adjusted))}
                </td>
                <td className={styles.num} data-testid="variant-chance-to-win">
                  {variant.is_control ? formatChance(null) : formatChance(variant.chance_to_win)}
                </td>
                <td>
                  <span className={styles.verdict} data-verdict={verdict} data-testid="variant-verdict">
                    {VERDICT_LABELS[verdict]}
                  </span>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
