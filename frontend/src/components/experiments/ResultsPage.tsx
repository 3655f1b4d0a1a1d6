"use client";

import Link from "next/link";
import { useLocationPathname } from "@/hooks/useLocationPathname";
import { experimentIdFromPath } from "@/lib/resultsPath";
import { streamOptionsFromSearch } from "@/lib/streamQueryOptions";
import { ResultsDashboard } from "./ResultsDashboard";

/**
 * Client entry of /results/<id>/. The static export has a single placeholder
 * page (id "_"), so the id comes from window.location.pathname, not params.
 * Stream tuning (`?reconnectAttempts=&backoffMs=&probeMs=`) comes from the query
 * string (src/lib/streamQueryOptions.ts).
 */
export function ResultsPage() {
  const pathname = useLocationPathname();
  if (pathname === null) {
    return (
      <div className="es-card es-notice" data-testid="results-loading">
        Loading…
      </div>
    );
  }
  const experimentId = experimentIdFromPath(pathname);
  if (!experimentId) {
    return (
      <div className="es-card es-notice" data-testid="results-no-id">
        <p>No experiment selected.</p>
        <Link href="/">← Back to all experiments</Link>
      </div>
    );
  }
  return <ResultsDashboard experimentId={experimentId} streamOptions={streamOptionsFromSearch(window.location.search)} />;
}
