import { useId } from "react";
import type { MetricResult, VariantResult } from "@expstream/client";
import { cupedDisplay } from "../lib/cuped";
import { formatChance, formatInteger, formatLift, formatPValue } from "../lib/format";
import {
  DIRECTION_NOTES,
  ROLE_LABELS,
  VALUE_LABELS,
  formatMetricValue,
  isControlKey,
  shownMetricPValue,
  showsAdjustedPValues,
  variantName,
} from "../lib/metrics";
import { METRIC_VERDICT_LABELS, intervalEffect, liftEffect, metricVerdict, type MetricVerdict } from "../lib/significance";
import { effectClass } from "./effectClass";
import { LiftInterval } from "./LiftInterval";
import { classNames as styles } from "../classNames";

type VariantInfo = Pick<VariantResult, "key" | "name" | "is_control">;

export interface MetricResultsProps {
  /** The snapshot's metrics, in definition order (at least one). */
  metrics: readonly MetricResult[];
  /** The snapshot's variants: display names and which one is the control. */
  variants: readonly VariantInfo[];
}

/**
 * One card per metric: its name, role and direction (and a CUPED badge when the server
 * regression-adjusted it; lib/cuped.ts), and a row per variant.
 */
export function MetricResults({ metrics, variants }: MetricResultsProps) {
  return (
    <section className={styles.metrics} aria-label="Metrics" data-testid="metric-results">
      {metrics.map((metric) => (
        <MetricCard key={metric.key} metric={metric} variants={variants} />
      ))}
    </section>
  );
}

function verdictTitle(verdict: MetricVerdict, metric: MetricResult): string | undefined {
  const note = DIRECTION_NOTES[metric.direction];
  if (verdict === "better") return `Significant, in the good direction (${note})`;
  if (verdict === "worse") return `Significant, in the bad direction (${note})`;
  return undefined;
}

function MetricCard({ metric, variants }: { metric: MetricResult; variants: readonly VariantInfo[] }) {
  const adjusted = showsAdjustedPValues(metric);
  const cuped = cupedDisplay(metric, variants);
  const headingId = `${useId()}-heading`;
  return (
    <section
      className={`${styles.card} ${styles.metricCard}`}
      aria-labelledby={headingId}
      data-testid="metric-card"
      data-metric-key={metric.key}
      data-role={metric.role}
    >
      <header className={styles.metricHeader}>
        <h3 className={styles.metricName} id={headingId} data-testid="metric-name">
          {metric.name}
        </h3>
        <span className={styles.role} data-role={metric.role} data-testid="metric-role">
          {ROLE_LABELS[metric.role]}
        </span>
        <span className={styles.direction} data-testid="metric-direction">
          {DIRECTION_NOTES[metric.direction]}
        </span>
        {cuped.badge && (
          <span className={styles.cuped} data-testid="metric-cuped" title={cuped.badge.title}>
            {cuped.badge.text}
          </span>
        )}
      </header>
      <div className={styles.tableScroll}>
        <table className={`${styles.table} ${styles.resultsTable}`} data-testid="metric-table">
          <thead>
            <tr>
              <th scope="col">Variant</th>
              <th scope="col" className={styles.num}>
                Users
              </th>
              <th scope="col" className={styles.num} data-testid="metric-value-header">
                {VALUE_LABELS[metric.kind]}
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
                data-testid="metric-p-value-header"
                title={adjusted ? "Adjusted for multiple comparisons" : undefined}
              >
                <span className={styles.noWrap}>P-value</span>
                {adjusted && " (adj.)"}
              </th>
              <th scope="col" className={styles.num} title="Probability that the variant beats the control">
                Chance to win
              </th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {metric.variants.map((variant) => {
              const isControl = isControlKey(variants, variant.key);
              const verdict = metricVerdict(variant, { isControl, direction: metric.direction });
              const cupedNote = cuped.rows.get(variant.key);
              return (
                <tr key={variant.key} data-testid="metric-variant-row" data-variant-key={variant.key}>
                  <th scope="row">
                    <span className={styles.variantName}>{variantName(variants, variant.key)}</span>{" "}
                    <span className={styles.variantKey}>{variant.key}</span>
                    {cupedNote && (
                      <>
                        {" "}
                        <span className={styles.cupedNote} data-testid="metric-variant-cuped" title={cupedNote.title}>
                          {cupedNote.text}
                        </span>
                      </>
                    )}
                  </th>
                  <td className={styles.num} data-testid="metric-users">
                    {formatInteger(variant.users)}
                  </td>
                  <td className={styles.num} data-testid="metric-value">
                    {formatMetricValue(variant.value, metric.kind)}
                  </td>
                  <td className={`${styles.num} ${effectClass(liftEffect(variant.relative_lift, metric.direction))}`} data-testid="metric-lift">
                    {formatLift(variant.relative_lift)}
                  </td>
                  <td
                    className={`${styles.num} ${styles.interval} ${effectClass(intervalEffect(variant.lift_ci, metric.direction))}`}
                    data-testid="metric-lift-ci"
                  >
                    <LiftInterval interval={variant.lift_ci} />
                  </td>
                  <td className={styles.num} data-testid="metric-p-value">
                    {formatPValue(shownMetricPValue(variant))}
                  </td>
                  <td className={styles.num} data-testid="metric-chance-to-win">
                    {formatChance(isControl ? null : variant.chance_to_win)}
                  </td>
                  <td>
                    <span
                      className={styles.verdict}
                      data-verdict={verdict}
                      data-testid="metric-verdict"
                      title={verdictTitle(verdict, metric)}
                    >
                      {METRIC_VERDICT_LABELS[verdict]}
                    </span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
