"use client";

import { apiRefusalMessage } from "@expstream/client";
import { ExperimentStatusBadge, formatDate } from "@expstream/react";
import { useExperiments } from "@/hooks/useExperiments";
import { resultsPathFor } from "@/lib/resultsPath";
import styles from "./Dashboard.module.css";

/** The experiments list (GET /api/v1/experiments) with links to each results page. */
export function ExperimentList() {
  const { data: experiments, error, loading, reload } = useExperiments();

  return (
    <section aria-labelledby="experiments-title">
      <h1 id="experiments-title" className={styles.listTitle}>
        Experiments
      </h1>
      {error ? (
        <div className="es-card es-notice" role="alert" data-testid="experiments-error">
          <p>{apiRefusalMessage(error) ?? `Could not load experiments: ${error.message}`}</p>
          <button type="button" className="es-btn" onClick={reload}>
            Try again
          </button>
        </div>
      ) : !experiments ? (
        <div className="es-card es-notice" data-testid="experiments-loading">
          {loading ? "Loading experiments…" : "No experiments."}
        </div>
      ) : experiments.length === 0 ? (
        <div className="es-card es-notice" data-testid="experiments-empty">
          No experiments yet.
        </div>
      ) : (
        <div className="es-card es-table-scroll">
          <table className="es-table" data-testid="experiments-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Variants</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="muted">Results</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {experiments.map((experiment) => (
                <tr key={experiment.id} data-testid="experiment-row">
                  <td>
                    <a href={resultsPathFor(experiment.id)} style={{ fontWeight: 600 }}>
                      {experiment.name}
                    </a>
                  </td>
                  <td>
                    <ExperimentStatusBadge status={experiment.status} />
                  </td>
                  <td>{experiment.variants.length}</td>
                  <td>
                    <time dateTime={experiment.created_at}>{formatDate(experiment.created_at)}</time>
                  </td>
                  <td>
                    <a href={resultsPathFor(experiment.id)} data-testid="results-link">
                      View results →
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
