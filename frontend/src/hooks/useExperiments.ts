"use client";

import { fetchExperiment, fetchExperiments } from "@/lib/api";
import type { Experiment } from "@/types/experiment";
import { useAsyncResource, type AsyncResource } from "./useAsyncResource";

/** GET /api/v1/experiments */
export function useExperiments(): AsyncResource<Experiment[]> {
  return useAsyncResource("experiments", (signal) => fetchExperiments(signal));
}

/** GET /api/v1/experiments/{id} (nothing is fetched for a null id). */
export function useExperiment(experimentId: string | null): AsyncResource<Experiment> {
  return useAsyncResource(experimentId, (signal) => fetchExperiment(experimentId as string, signal));
}
