import type { Experiment } from "@expstream/client";

export function makeExperiment(overrides: Partial<Experiment> = {}): Experiment {
  return {
    id: "exp-1",
    name: "Checkout button colour",
    status: "active",
    created_at: "2024-04-20T09:30:00+00:00",
    activated_at: "2024-04-21T08:00:00+00:00",
    seq: 3,
    variants: [
      { key: "control", name: "Control", is_control: true },
      { key: "green", name: "Green button", is_control: false },
    ],
    ...overrides,
  };
}
