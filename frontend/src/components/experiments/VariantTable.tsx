import { formatInteger, formatLift, formatPValue, formatPercent } from "@/lib/format";
import { VERDICT_LABELS, variantVerdict } from "@/lib/significance";
import type { VariantResult } from "@/types/snapshot";
import styles from "./LiveResults.module.css";

function liftClass(lift: number | null): string | undefined {
  if (lift === null || lift === 0) return undefined;
  return lift > 0 ? styles.positive : styles.negative;
}

/** Name | Participants | Conversions | Rate | Lift | P-value | Status, one row per variant. */
export function VariantTable({ variants }: { variants: VariantResult[] }) {
  return (
    <div className="card table-scroll">
      <table className="data-table" data-testid="variant-table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className="num">
              Participants
            </th>
            <th scope="col" className="num">
              Conversions
            </th>
            <th scope="col" className="num">
              Rate
            </th>
            <th scope="col" className="num">
              Lift
            </th>
            <th scope="col" className="num">
              P-value
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
                  <span className={styles.variantName}>{variant.name}</span>
                  <span className={styles.variantKey}>{variant.key}</span>
                </th>
                <td className="num" data-testid="variant-participants">
                  {formatInteger(variant.participant_count)}
                </td>
                <td className="num" data-testid="variant-conversions">
                  {formatInteger(variant.conversion_count)}
                </td>
                <td className="num" data-testid="variant-rate">
                  {formatPercent(variant.conversion_rate)}
                </td>
                <td className={`num ${liftClass(variant.relative_lift) ?? ""}`} data-testid="variant-lift">
                  {formatLift(variant.relative_lift)}
                </td>
                <td className="num" data-testid="variant-p-value">
                  {formatPValue(variant.p_value)}
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
