"use client";

import { useExperimentStream, type UseExperimentStreamOptions } from "../hooks/useExperimentStream";
import { useLiftHistory } from "../hooks/useLiftHistory";
import { comparisonFamily, countTreatments, describeAnalysis } from "../lib/analysis";
import { formatDateTime, formatDays, formatInteger, formatTime } from "../lib/format";
import { shownMetrics } from "../lib/metrics";
import { multipleExposuresCount, multipleExposuresNote } from "../lib/alerts";
import { srmAlert, srmMessage } from "../lib/srm";
import { AlertBanners } from "./AlertBanners";
import { ConnectionBadge, LiveIndicator, TransportNote } from "./ConnectionBadge";
import { ExperimentStatusBadge } from "./ExperimentStatusBadge";
import { LiftChart } from "./LiftChart";
import { MetricResults } from "./MetricResults";
import { VariantTable } from "./VariantTable";
import { classNames as styles } from "../classNames";

export interface LiveResultsPanelProps {
  experimentId: string;
  options?: UseExperimentStreamOptions;
}

/**
 * Live A/B results of one experiment, streamed over WebSocket (or SSE / polling
 * as fallbacks): summary (with the count of users who saw more than one variant, when there
 * are any), SRM, guardrail and exposure warnings, variant table with the
 * analysis method, a card per metric when the snapshot has `metrics`, and the
 * lift-over-time chart (history endpoint plus live snapshots) with a metric selector.
 */
export function LiveResultsPanel({ experimentId, options }: LiveResultsPanelProps) {
  const { snapshot, anomaly, status, error, transport, refresh, reconnect, reconnectIn, attempt, maxReconnectAttempts } =
    useExperimentStream(experimentId, options);
  const history = useLiftHistory(experimentId, snapshot, { token: options?.token });
  const srm = srmAlert(snapshot, anomaly);
  const metrics = shownMetrics(snapshot?.metrics);
  const multipleExposures = multipleExposuresCount(snapshot);
  const method = snapshot
    ? describeAnalysis(snapshot.analysis, comparisonFamily(countTreatments(snapshot.variants), metrics))
    : null;

  return (
    <section className={styles.panel} aria-label="Live results" data-testid="live-results-panel">
      <div className={`${styles.card} ${styles.toolbar}`}>
        <ConnectionBadge status={status} />
        {transport && <TransportNote transport={transport} />}
        {status === "connected" && <LiveIndicator />}
        <span className={styles.spacer} />
        <span className={styles.lastUpdated} data-testid="last-updated">
          Last updated{" "}
          {snapshot ? (
            <time dateTime={snapshot.timestamp} title={formatDateTime(snapshot.timestamp)}>
              {formatTime(snapshot.timestamp)}
            </time>
          ) : (
            "—"
          )}
        </span>
        <button
          type="button"
          className={styles.btn}
          data-testid="refresh-button"
          onClick={() => refresh()}
          disabled={status !== "connected"}
        >
          ↻ Refresh
        </button>
      </div>

      {status === "disconnected" && reconnectIn !== null && (
        <div className={`${styles.banner} ${styles.infoBanner}`} data-testid="reconnect-countdown" role="status">
          <span>
            Connection lost. Reconnecting in {reconnectIn}s (attempt {attempt} of {maxReconnectAttempts})
          </span>
          <button type="button" className={styles.btn} data-testid="reconnect-now-button" onClick={reconnect}>
            Reconnect now
          </button>
        </div>
      )}

      {status === "connecting" && attempt > 0 && (
        <div className={`${styles.banner} ${styles.infoBanner}`} data-testid="reconnecting-notice" role="status">
          <span>
            Reconnecting… (attempt {attempt} of {maxReconnectAttempts})
          </span>
        </div>
      )}

      {status === "disconnected" && reconnectIn === null && !error && (
        <div className={`${styles.banner} ${styles.infoBanner}`} data-testid="paused-notice" role="status">
          <span>Live updates are paused.</span>
          <button type="button" className={styles.btn} data-testid="resume-button" onClick={reconnect}>
            Resume
          </button>
        </div>
      )}

      {error && (
        <div className={`${styles.banner} ${styles.errorBanner}`} data-testid="error-banner" role="alert">
          <span>{error}</span>
          <button type="button" className={`${styles.btn} ${styles.btnPrimary}`} data-testid="reconnect-button" onClick={reconnect}>
            Reconnect
          </button>
        </div>
      )}

      {srm && (
        <div className={`${styles.banner} ${styles.errorBanner} ${styles.srmBanner}`} data-testid="srm-banner" role="alert">
          <span>{srmMessage(srm)}</span>
        </div>
      )}

      <AlertBanners snapshot={snapshot} anomaly={anomaly} />

      {snapshot ? (
        <>
          <div className={styles.stats}>
            <div className={`${styles.card} ${styles.stat}`}>
              <div className={styles.statLabel}>Status</div>
              <div className={styles.statValue}>
                <ExperimentStatusBadge status={snapshot.status} testId="experiment-status" />
              </div>
            </div>
            <div className={`${styles.card} ${styles.stat}`}>
              <div className={styles.statLabel}>Participants</div>
              <div className={styles.statValue} data-testid="total-participants">
                {formatInteger(snapshot.total_participants)}
              </div>
              {multipleExposures !== null && (
                <div
                  className={styles.statNote}
                  data-testid="multiple-exposures-count"
                  title="Users assigned to more than one variant; a warning appears when they pass 1% of the assigned users"
                >
                  {multipleExposuresNote(multipleExposures)}
                </div>
              )}
            </div>
            <div className={`${styles.card} ${styles.stat}`}>
              <div className={styles.statLabel}>Running</div>
              <div className={styles.statValue} data-testid="days-running">
                {formatDays(snapshot.days_running)}
              </div>
            </div>
            <div className={`${styles.card} ${styles.stat}`}>
              <div className={styles.statLabel}>Result</div>
              <div
                className={`${styles.statValue} ${snapshot.is_significant ? styles.positive : ""}`}
                data-testid="overall-significance"
              >
                {snapshot.is_significant ? "Significant" : "Not yet significant"}
              </div>
            </div>
          </div>
          {method && (
            <p className={styles.analysisMethod} data-testid="analysis-method">
              {method}
            </p>
          )}
          <VariantTable variants={snapshot.variants} analysis={snapshot.analysis} metrics={metrics} />
          {metrics && <MetricResults metrics={metrics} variants={snapshot.variants} />}
          <LiftChart
            points={history.points}
            variants={snapshot.variants}
            loading={history.loading}
            error={history.error}
            metrics={metrics}
          />
        </>
      ) : (
        !error && (
          <div className={`${styles.card} ${styles.notice}`} data-testid="waiting-for-results">
            Waiting for the first results…
          </div>
        )
      )}
    </section>
  );
}
