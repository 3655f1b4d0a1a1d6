"use client";

import { useId, useState } from "react";
import type { BreakdownValue } from "@expstream/client";
import { MetricResults, formatInteger, formatLift, formatPValue } from "@expstream/react";
import { useBreakdown } from "@/hooks/useBreakdown";
import styles from "./Dashboard.module.css";

/** The first values start open; the rest one click away. */
const OPEN_VALUES = 3;

/** "Revenue per user: one_click +4.2% (p adj. 0.031)": the primary metric's first treatment, for a value's summary line. */
function headline(value: BreakdownValue): string {
  const metric = value.metrics.find((m) => m.role === "primary") ?? value.metrics[0];
  const controlKey = value.variants.find((v) => v.is_control)?.key;
  const treatment = metric?.variants.find((v) => v.key !== controlKey);
  if (!metric || !treatment) return "";
  // The p-value the metric's card shows: adjusted for the family of tests when there is one.
  const adjusted = treatment.p_value_adjusted !== null && treatment.p_value_adjusted !== undefined;
  const p = adjusted ? treatment.p_value_adjusted : treatment.p_value;
  return `${metric.name}: ${treatment.key} ${formatLift(treatment.relative_lift)} (p${adjusted ? " adj." : ""} ${formatPValue(p)})`;
}

/** "Breakdown" tab: the results per value of one of the experiment's dimensions, live. */
export function BreakdownPanel({ experimentId, dimensions }: { experimentId: string; dimensions: readonly string[] }) {
  const [dimension, setDimension] = useState<string>(dimensions[0] ?? "");
  const { breakdown, error } = useBreakdown(experimentId, dimension || null);
  const selectId = useId();

  if (dimensions.length === 0) {
    return (
      <div className="es-card es-notice" data-testid="breakdown-none">
        This experiment declared no dimensions. Declare them when creating it (&quot;dimensions&quot;: [&quot;country&quot;])
        and send each user&apos;s values with their assignment (&quot;attributes&quot;).
      </div>
    );
  }
  return (
    <div className={`es-card ${styles.details}`} data-testid="breakdown">
      <label htmlFor={selectId}>Breakdown by </label>
      <select id={selectId} value={dimension} onChange={(e) => setDimension(e.target.value)} data-testid="breakdown-dimension">
        {dimensions.map((d) => (
          <option key={d} value={d}>
            {d}
          </option>
        ))}
      </select>
      {error && (
        <p role="alert" data-testid="breakdown-error">
          {error}
        </p>
      )}
      {breakdown && (
        <p className="es-muted" data-testid="breakdown-note">
          {breakdown.note}
        </p>
      )}
      {breakdown?.values.length === 0 && <p data-testid="breakdown-empty">No users assigned yet.</p>}
      {breakdown?.values.map((value, index) => (
        <details key={value.value} open={index < OPEN_VALUES} data-testid="breakdown-value" data-value={value.value}>
          <summary>
            <strong>{value.value}</strong> · {formatInteger(value.users)} users
            {headline(value) && <> · {headline(value)}</>}
          </summary>
          {value.metrics.length > 0 && <MetricResults metrics={value.metrics} variants={value.variants} />}
        </details>
      ))}
    </div>
  );
}
