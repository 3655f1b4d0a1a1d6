import { ApiError, apiRefusalMessage, type Experiment } from "@expstream/client";
import { ExperimentStatusBadge, formatDateTime } from "@expstream/react";
import type { AsyncResource } from "@/hooks/useAsyncResource";
import styles from "./Dashboard.module.css";

/** "Details" tab: the experiment as returned by GET /api/v1/experiments/{id}. */
export function ExperimentDetails({ resource }: { resource: AsyncResource<Experiment> }) {
  const { data: experiment, error, loading, reload } = resource;

  if (error) {
    const notFound = error instanceof ApiError && error.status === 404;
    const refusal = apiRefusalMessage(error);
    return (
      <div className="es-card es-notice" data-testid="details-error" role="alert">
        <p>
          {notFound
            ? "This experiment does not exist."
            : (refusal ?? `Could not load the experiment: ${error.message}`)}
        </p>
        {!notFound && !refusal && (
          <button type="button" className="es-btn" onClick={reload}>
            Try again
          </button>
        )}
      </div>
    );
  }
  if (!experiment) {
    return (
      <div className="es-card es-notice" data-testid="details-loading">
        {loading ? "Loading details…" : "No details."}
      </div>
    );
  }

  return (
    <div className={`es-card ${styles.details}`} data-testid="experiment-details">
      <dl className={styles.dl}>
        <dt>Name</dt>
        <dd data-testid="details-name">{experiment.name}</dd>
        <dt>Status</dt>
        <dd>
          <ExperimentStatusBadge status={experiment.status} testId="details-status" />
        </dd>
        <dt>ID</dt>
        <dd>
          <code>{experiment.id}</code>
        </dd>
        <dt>Created</dt>
        <dd>{formatDateTime(experiment.created_at)}</dd>
        <dt>Activated</dt>
        <dd>{experiment.activated_at ? formatDateTime(experiment.activated_at) : "Not yet"}</dd>
      </dl>
      <h2 className={styles.sectionTitle}>Variants</h2>
      <div className="es-table-scroll">
        <table className="es-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Role</th>
            </tr>
          </thead>
          <tbody>
            {experiment.variants.map((variant) => (
              <tr key={variant.key} data-testid="details-variant">
                <td>{variant.name}</td>
                <td>
                  <code>{variant.key}</code>
                </td>
                <td>{variant.is_control ? "Control" : "Treatment"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
