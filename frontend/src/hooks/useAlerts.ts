"use client";

import { fetchAlerts, type AlertTransition } from "@expstream/client";
import { dashboardClientOptions } from "@/lib/clientOptions";
import { useAsyncResource, type AsyncResource } from "./useAsyncResource";

/** GET /api/v1/experiments/{id}/alerts (nothing is fetched for a null id). */
export function useAlerts(experimentId: string | null): AsyncResource<AlertTransition[]> {
  return useAsyncResource(experimentId, (signal) =>
    fetchAlerts(experimentId as string, { ...dashboardClientOptions(), signal }),
  );
}
