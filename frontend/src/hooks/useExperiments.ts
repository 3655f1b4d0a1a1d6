"use client";

import { fetchExperiment, fetchExperiments, type Experiment } from "@expstream/client";
import { dashboardClientOptions } from "@/lib/clientOptions";
import { useAsyncResource, type AsyncResource } from "./useAsyncResource";

/** GET /api/v1/experiments */
export function useExperiments(): AsyncResource<Experiment[]> {
  return useAsyncResource("experiments", (signal) => fetchExperiments({ ...dashboardClientOptions(), signal }));
}

/** GET /api/v1/experiments/{id} (nothing is fetched for a null id). */
export function useExperiment(experimentId: string | null): AsyncResource<Experiment> {
  return useAsyncResource(experimentId, (signal) =>
    fetchExperiment(experimentId as string, { ...dashboardClientOptions(), signal }),
  );
}
