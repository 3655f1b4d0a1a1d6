import { EMPTY_VALUE, formatLiftIntervalLines } from "../lib/format";
import { classNames as styles } from "../classNames";

export interface LiftIntervalProps {
  interval: readonly [number, number] | null | undefined;
  fractionDigits?: number;
}

/**
 * A lift interval that may break after its ellipsis and nowhere else: in a tight
 * table "−701.8% … +791.8%" becomes two lines instead of widening the column
 * (its text content stays that of formatLiftInterval).
 */
export function LiftInterval({ interval, fractionDigits }: LiftIntervalProps) {
  const lines = formatLiftIntervalLines(interval, fractionDigits);
  if (!lines) return <>{EMPTY_VALUE}</>;
  return (
    <>
      <span className={styles.noWrap}>{lines[0]}</span> <span className={styles.noWrap}>{lines[1]}</span>
    </>
  );
}
