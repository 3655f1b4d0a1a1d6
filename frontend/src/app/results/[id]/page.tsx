import { ResultsPage } from "@/components/experiments/ResultsPage";
import { RESULTS_PLACEHOLDER_ID } from "@/lib/resultsPath";

// Static export emits a single placeholder, out/results/_/index.html. The
// server returns it for every /results/<id>/ URL and the client reads the real
// id from window.location.pathname (see ResultsPage), never from params.
export const dynamicParams = false;

export function generateStaticParams(): { id: string }[] {
  return [{ id: RESULTS_PLACEHOLDER_ID }];
}

export default function Page() {
  return <ResultsPage />;
}
