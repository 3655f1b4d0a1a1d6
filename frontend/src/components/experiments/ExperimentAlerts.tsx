import { apiRefusalMessage, type AlertTransition } from "@expstream/client";
import { formatDateTime } from "@expstream/react";
import type { AsyncResource } from "@/hooks/useAsyncResource";

/** How each event type reads in the table. */
const TYPE_LABELS: Record<AlertTransition["type"], string> = {
  significance: "Significance",
  guardrail: "Guardrail",
  srm: "Sample ratio mismatch",
  multiple_exposures: "Multiple exposures",
  status_changed: "Status",
};

function stateLabel(state: string): string {
  return state.replaceAll("_", " ");
}

/** "Alerts" tab: the experiment's transitions (GET /api/v1/experiments/{id}/alerts), newest first. */
export function ExperimentAlerts({ resource }: { resource: AsyncResource<AlertTransition[]> }) {
  const { data: alerts, error, loading, reload } = resource;

  if (error) {
    const refusal = apiRefusalMessage(error);
    return (
      <div className="es-card es-notice" data-testid="alerts-error" role="alert">
        <p>{refusal ?? `Could not load the alerts: ${error.message}`}</p>
        {!refusal && (
          <button type="button" className="es-btn" onClick={reload}>
            Try again
          </button>
        )}
      </div>
    );
  }
  if (!alerts || alerts.length === 0) {
    return (
      <div className="es-card es-notice" data-testid="alerts-empty">
        {loading ? "Loading alerts…" : "No alerts yet: transitions (significance, guardrails, SRM, exposures, status) appear here."}
      </div>
    );
  }

  return (
    <div className="es-card">
      <div className="es-table-scroll">
        <table className="es-table" data-testid="alerts-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Type</th>
              <th scope="col">Change</th>
              <th scope="col">Metric</th>
              <th scope="col">Variant</th>
            </tr>
          </thead>
          <tbody>
            {alerts.map((alert) => (
              <tr key={alert.id} data-testid="alert-row">
                <td>{formatDateTime(alert.created_at)}</td>
                <td>{TYPE_LABELS[alert.type] ?? alert.type}</td>
                <td>{stateLabel(alert.state)}</td>
                <td>{alert.metric ? <code>{alert.metric}</code> : "—"}</td>
                <td>{alert.variant ? <code>{alert.variant}</code> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <button type="button" className="es-btn" onClick={reload} disabled={loading}>
        Refresh
      </button>
    </div>
  );
}
