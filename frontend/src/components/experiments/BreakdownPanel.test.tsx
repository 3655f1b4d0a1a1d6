import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { metricsSnapshotJson } from "@test-support/metricsFixtures";
import { BreakdownPanel } from "./BreakdownPanel";

/** A breakdown as the server sends it: each value carries the fixture snapshot's variants and metrics. */
function breakdownJson(dimension: string, values: string[], seq = 7): Record<string, unknown> {
  const snapshot = metricsSnapshotJson();
  return {
    event: "breakdown",
    experiment_id: "exp-1",
    dimension,
    seq,
    timestamp: "2026-12-01T12:00:00+00:00",
    note: "Each value is analysed on its own users.",
    values: values.map((value, i) => ({ value, users: 100 - i, variants: snapshot.variants, metrics: snapshot.metrics })),
  };
}

type Answer = { status: number; body: unknown } | "pending";

/** fetch answering from a queue; "pending" never settles (a long poll still waiting). */
function stubAnswers(answers: Answer[]) {
  const calls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((input: RequestInfo | URL) => {
      calls.push(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      const answer = answers.shift() ?? "pending";
      if (answer === "pending") return new Promise<Response>(() => undefined);
      return Promise.resolve(
        new Response(JSON.stringify(answer.body), { status: answer.status, headers: { "Content-Type": "application/json" } }),
      );
    }),
  );
  return calls;
}

beforeEach(() => vi.stubEnv("NEXT_PUBLIC_API_URL", ""));
afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe("BreakdownPanel", () => {
  it("shows each value with its users and metrics, then long-polls for the next breakdown", async () => {
    const calls = stubAnswers([{ status: 200, body: breakdownJson("country", ["DE", "US", "(other)", "(none)"]) }]);
    render(<BreakdownPanel experimentId="exp-1" dimensions={["country", "device"]} />);
    const values = await screen.findAllByTestId("breakdown-value");
    expect(values.map((v) => v.getAttribute("data-value"))).toEqual(["DE", "US", "(other)", "(none)"]);
    expect(values[0]).toHaveTextContent("100 users");
    expect(values[0].querySelectorAll("[data-testid='metric-card']").length).toBeGreaterThan(0);
    expect(screen.getByTestId("breakdown-note")).toHaveTextContent("analysed on its own users");
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[0]).toBe("/api/v1/experiments/exp-1/results?dimension=country");
    expect(calls[1]).toContain("dimension=country");
    expect(calls[1]).toContain("after_seq=7");
  });

  it("breaks down by another dimension when the selector changes", async () => {
    const calls = stubAnswers([
      { status: 200, body: breakdownJson("country", ["DE"]) },
      "pending",
      { status: 200, body: breakdownJson("device", ["mobile", "desktop"]) },
    ]);
    render(<BreakdownPanel experimentId="exp-1" dimensions={["country", "device"]} />);
    await screen.findByText("DE");
    fireEvent.change(screen.getByTestId("breakdown-dimension"), { target: { value: "device" } });
    await screen.findByText("mobile");
    expect(calls[2]).toBe("/api/v1/experiments/exp-1/results?dimension=device");
    expect(screen.queryByText("DE")).not.toBeInTheDocument();
  });

  it("says so when the server knows no such dimension, and stops asking", async () => {
    const calls = stubAnswers([{ status: 422, body: { detail: "dimension 'plan' is not one of this experiment's dimensions" } }]);
    render(<BreakdownPanel experimentId="exp-1" dimensions={["plan"]} />);
    expect(await screen.findByTestId("breakdown-error")).toHaveTextContent("no such dimension");
    expect(calls).toHaveLength(1);
  });

  it("explains how to declare dimensions when the experiment has none", () => {
    const calls = stubAnswers([]);
    render(<BreakdownPanel experimentId="exp-1" dimensions={[]} />);
    expect(screen.getByTestId("breakdown-none")).toHaveTextContent("declared no dimensions");
    expect(calls).toHaveLength(0);
  });
});
