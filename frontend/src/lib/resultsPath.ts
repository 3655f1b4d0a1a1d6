/**
 * The static export emits one placeholder page, out/results/_/index.html, which
 * the server returns for every /results/<id>/ URL. The real id therefore has to
 * come from window.location.pathname, never from the route params.
 */

export const RESULTS_PLACEHOLDER_ID = "_";

const RESULTS_PATH = /(?:^|\/)results\/([^/?#]+)\/?(?:[?#].*)?$/;

/** Experiment id from a pathname like "/results/<id>/", or null when absent/placeholder. */
export function experimentIdFromPath(pathname: string | null | undefined): string | null {
  if (!pathname) return null;
  const match = RESULTS_PATH.exec(pathname);
  if (!match) return null;
  let id: string;
  try {
    id = decodeURIComponent(match[1]);
  } catch {
    return null;
  }
  id = id.trim();
  if (!id || id === RESULTS_PLACEHOLDER_ID) return null;
  return id;
}

/** Link to an experiment's results page (trailing slash matches the static export). */
export function resultsPathFor(experimentId: string): string {
  return `/results/${encodeURIComponent(experimentId)}/`;
}
