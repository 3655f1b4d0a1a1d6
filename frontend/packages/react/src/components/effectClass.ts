import type { Effect } from "../lib/significance";
import { classNames as styles } from "../classNames";

/** Green for good news, red for bad, nothing when there is no effect to judge (see liftEffect/intervalEffect). */
export function effectClass(effect: Effect | null): string {
  if (effect === "good") return styles.positive;
  if (effect === "bad") return styles.negative;
  return "";
}
