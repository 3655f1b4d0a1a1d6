/**
 * @expstream/react: the live results panel of expstream and the hooks it is built on.
 * React >= 18 as a peer; no framework beyond it. Import the stylesheet once:
 * `import "@expstream/react/styles.css";`. The stream itself is @expstream/client's.
 */

// Hooks
export {
  useExperimentStream,
  type ConnectionStatus,
  type ExperimentStream,
  type UseExperimentStreamOptions,
} from "./hooks/useExperimentStream";
export { HISTORY_UNAVAILABLE_MESSAGE, useLiftHistory, type LiftHistory } from "./hooks/useLiftHistory";

// Components
export { LiveResultsPanel, type LiveResultsPanelProps } from "./components/LiveResultsPanel";
export { AlertBanners, type AlertBannersProps } from "./components/AlertBanners";
export { CONNECTION_LABELS, ConnectionBadge, LiveIndicator, TransportNote } from "./components/ConnectionBadge";
export { ExperimentStatusBadge } from "./components/ExperimentStatusBadge";
export { LiftChart, SERIES_COLORS, type LiftChartProps } from "./components/LiftChart";
export { LiftInterval, type LiftIntervalProps } from "./components/LiftInterval";
export { MetricResults, type MetricResultsProps } from "./components/MetricResults";
export { VariantTable, type VariantTableProps } from "./components/VariantTable";
export { classNames, type ClassName } from "./classNames";

// The words and numbers the panel shows
export {
  EMPTY_VALUE,
  formatChance,
  formatConfidenceLevel,
  formatDate,
  formatDateTime,
  formatDays,
  formatDecimal,
  formatInteger,
  formatLift,
  formatLiftInterval,
  formatPValue,
  formatPValueRelation,
  formatPercent,
  formatTime,
} from "./lib/format";
export {
  CORRECTION_SHORT_LABELS,
  adjustedPValueLabel,
  adjustedPValueTitle,
  comparisonFamily,
  countTestedMetrics,
  countTreatments,
  describeAnalysis,
  describeFamily,
  shownPValue,
  usesAdjustedPValues,
  usesHolmPValues,
  type ComparisonFamily,
} from "./lib/analysis";
export { srmAlert, srmMessage, type SrmAlert } from "./lib/srm";
export {
  guardrailAlerts,
  guardrailMessage,
  multipleExposuresAlert,
  multipleExposuresCount,
  multipleExposuresMessage,
  multipleExposuresNote,
} from "./lib/alerts";
export {
  cupedDisplay,
  cupedLabel,
  cupedTitle,
  formatTheta,
  varianceReductionPercent,
  type CupedDisplay,
  type CupedNote,
} from "./lib/cuped";
export { DIRECTION_NOTES, ROLE_LABELS, VALUE_LABELS, formatMetricValue, shownMetrics } from "./lib/metrics";
export {
  METRIC_VERDICT_LABELS,
  VERDICT_LABELS,
  metricVerdict,
  variantVerdict,
  type MetricVerdict,
  type VariantVerdict,
} from "./lib/significance";
