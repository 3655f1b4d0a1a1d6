import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE, resolveToken } from "@expstream/client";
import type { LiveResultsPanelProps } from "@expstream/react";
import { clearToken, storeToken } from "@/lib/token";
import { makeExperiment } from "@test-support/experiments";
import { stubFetch } from "@test-support/fetchMock";
import { ResultsDashboard } from "./ResultsDashboard";

const panel = vi.hoisted(() => ({ props: [] as LiveResultsPanelProps[] }));

vi.mock("@expstream/react", async (importOriginal) => ({
  ...(await importOriginal<typeof import("@expstream/react")>()),
  LiveResultsPanel: (props: LiveResultsPanelProps) => {
    panel.props.push(props);
    return <div data-testid="live-results-panel">live panel for {props.experimentId}</div>;
  },
}));

beforeEach(() => {
  vi.stubEnv("NEXT_PUBLIC_API_URL", "");
});

afterEach(() => {
  panel.props = [];
  clearToken();
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe("ResultsDashboard", () => {
  it("selects the Live tab first and shows the live panel for the experiment", () => {
    stubFetch({ "/api/v1/experiments/exp-1": { body: makeExperiment() } });
    render(<ResultsDashboard experimentId="exp-1" />);
    const tabs = screen.getAllByRole("tab");
    expect(tabs.map((tab) => tab.textContent)).toEqual(["⚡ Live", "Breakdown", "Details", "Alerts"]);
    expect(tabs[0]).toHaveAttribute("aria-selected", "true");
    expect(screen.getByTestId("live-results-panel")).toHaveTextContent("live panel for exp-1");
    expect(screen.getByTestId("live-results-panel")).toBeVisible();
  });

  it("gives the live panel the page's token and API base with the stream tuning, and fetches with the token", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "http://api.test:8000");
    storeToken("page-token");
    const fetchMock = stubFetch({ "http://api.test:8000/api/v1/experiments/exp-1": { body: makeExperiment() } });
    render(<ResultsDashboard experimentId="exp-1" streamOptions={{ maxReconnectAttempts: 1 }} />);
    expect(await screen.findByText("Checkout button colour")).toBeInTheDocument();
    const options = panel.props.at(-1)?.options;
    expect(options).toMatchObject({ baseUrl: "http://api.test:8000", wsBaseUrl: window.location.origin, maxReconnectAttempts: 1 });
    expect(resolveToken(options?.token)).toBe("page-token");
    storeToken("newer-token");
    expect(resolveToken(options?.token)).toBe("newer-token");
    expect(new Headers((fetchMock.mock.calls[0][1] as RequestInit).headers).get("Authorization")).toBe("Bearer page-token");
  });

  it("shows the fetched experiment name in the header with a link back to the list", async () => {
    stubFetch({ "/api/v1/experiments/exp-1": { body: makeExperiment() } });
    render(<ResultsDashboard experimentId="exp-1" />);
    expect(await screen.findByText("Checkout button colour")).toBeInTheDocument();
    expect(screen.getByTestId("back-link")).toHaveAttribute("href", "/");
  });

  it("shows name, status and variants on the Details tab and keeps the live panel mounted", async () => {
    stubFetch({ "/api/v1/experiments/exp-1": { body: makeExperiment({ status: "paused" }) } });
    render(<ResultsDashboard experimentId="exp-1" />);
    fireEvent.click(screen.getByTestId("tab-details"));
    expect(screen.getByTestId("tab-details")).toHaveAttribute("aria-selected", "true");
    expect(await screen.findByTestId("details-name")).toHaveTextContent("Checkout button colour");
    expect(screen.getByTestId("details-status")).toHaveTextContent("paused");
    expect(screen.getAllByTestId("details-variant").map((r) => r.textContent)).toEqual([
      "ControlcontrolControl",
      "Green buttongreenTreatment",
    ]);
    expect(screen.getByTestId("live-results-panel")).not.toBeVisible();
  });

  it("says the experiment is unknown when the API answers 404", async () => {
    stubFetch({});
    render(<ResultsDashboard experimentId="nope" />);
    await waitFor(() => expect(screen.getByTestId("experiment-name")).toHaveTextContent("Unknown experiment"));
    fireEvent.click(screen.getByTestId("tab-details"));
    expect(screen.getByTestId("details-error")).toHaveTextContent("This experiment does not exist.");
  });

  it("moves between tabs with the arrow keys", () => {
    stubFetch({ "/api/v1/experiments/exp-1": { body: makeExperiment() } });
    render(<ResultsDashboard experimentId="exp-1" />);
    fireEvent.keyDown(screen.getByTestId("tab-live"), { key: "ArrowRight" });
    expect(screen.getByTestId("tab-breakdown")).toHaveAttribute("aria-selected", "true");
    expect(screen.getByTestId("tab-breakdown")).toHaveFocus();
    fireEvent.keyDown(screen.getByTestId("tab-breakdown"), { key: "ArrowRight" });
    expect(screen.getByTestId("tab-details")).toHaveAttribute("aria-selected", "true");
    fireEvent.keyDown(screen.getByTestId("tab-details"), { key: "ArrowRight" });
    expect(screen.getByTestId("tab-alerts")).toHaveAttribute("aria-selected", "true");
    fireEvent.keyDown(screen.getByTestId("tab-alerts"), { key: "ArrowRight" });
    expect(screen.getByTestId("tab-live")).toHaveAttribute("aria-selected", "true");
  });

  it("lists the experiment's transitions on the Alerts tab, fetched when it is opened", async () => {
    const fetchMock = stubFetch({
      "/api/v1/experiments/exp-1": { body: makeExperiment() },
      "/api/v1/experiments/exp-1/alerts": {
        body: [
          { id: 2, created_at: "2024-04-22T10:00:00+00:00", type: "guardrail", state: "regressed", metric: "refunds", variant: "green", detail: { relative_lift: 0.4 } },
          { id: 1, created_at: "2024-04-21T08:00:00+00:00", type: "status_changed", state: "active", metric: null, variant: null, detail: { from: "draft", to: "active" } },
        ],
      },
    });
    render(<ResultsDashboard experimentId="exp-1" />);
    expect(fetchMock.mock.calls.map((call) => call[0])).not.toContain("/api/v1/experiments/exp-1/alerts");
    fireEvent.click(screen.getByTestId("tab-alerts"));
    const rows = await screen.findAllByTestId("alert-row");
    expect(rows.map((row) => Array.from(row.querySelectorAll("td")).slice(1).map((cell) => cell.textContent))).toEqual([
      ["Guardrail", "regressed", "refunds", "green"],
      ["Status", "active", "—", "—"],
    ]);
    expect(screen.getByTestId("live-results-panel")).toBeInTheDocument();
  });

  it("says so on the Alerts tab when there are none yet", async () => {
    stubFetch({
      "/api/v1/experiments/exp-1": { body: makeExperiment() },
      "/api/v1/experiments/exp-1/alerts": { body: [] },
    });
    render(<ResultsDashboard experimentId="exp-1" />);
    fireEvent.click(screen.getByTestId("tab-alerts"));
    expect(await screen.findByText(/No alerts yet/)).toBeInTheDocument();
  });

  it.each([
    [401, UNAUTHORIZED_MESSAGE],
    [403, FORBIDDEN_MESSAGE],
  ])("explains an HTTP %i in the header and on the Details tab without a retry button", async (status, message) => {
    stubFetch({ "/api/v1/experiments/exp-1": { status } });
    render(<ResultsDashboard experimentId="exp-1" />);
    expect(await screen.findByTestId("access-error")).toHaveTextContent(message);
    fireEvent.click(screen.getByTestId("tab-details"));
    const details = screen.getByTestId("details-error");
    expect(details).toHaveTextContent(message);
    expect(details.querySelector("button")).toBeNull();
  });
});
