import { fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE } from "@expstream/client";
import { makeExperiment } from "@test-support/experiments";
import { stubFetch } from "@test-support/fetchMock";
import { clearToken } from "@/lib/token";
import { ExperimentList } from "./ExperimentList";

beforeEach(() => {
  vi.stubEnv("NEXT_PUBLIC_API_URL", "");
});

afterEach(() => {
  clearToken();
  window.history.replaceState(null, "", "/");
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe("ExperimentList", () => {
  it("sends the token from the page URL as a Bearer header and strips it from the address bar", async () => {
    window.history.replaceState(null, "", "/?token=secret");
    const fetchMock = stubFetch({ "/api/v1/experiments": { body: [] } });
    render(<ExperimentList />);
    expect(await screen.findByTestId("experiments-empty")).toBeInTheDocument();
    expect(new Headers((fetchMock.mock.calls[0][1] as RequestInit).headers).get("Authorization")).toBe("Bearer secret");
    expect(window.location.search).toBe("");
  });

  it("lists experiments with name, status, created date and a link to their results", async () => {
    stubFetch({
      "/api/v1/experiments": {
        body: [
          makeExperiment(),
          makeExperiment({ id: "exp-2", name: "Pricing page", status: "draft", created_at: "2024-03-02T10:00:00Z" }),
        ],
      },
    });
    render(<ExperimentList />);
    const rows = await screen.findAllByTestId("experiment-row");
    expect(rows).toHaveLength(2);

    const second = within(rows[1]);
    expect(second.getByText("Pricing page")).toHaveAttribute("href", "/results/exp-2/");
    expect(second.getByText("draft")).toBeInTheDocument();
    expect(second.getByText("Mar 2, 2024")).toBeInTheDocument();
    expect(second.getByTestId("results-link")).toHaveAttribute("href", "/results/exp-2/");
  });

  it("shows a loading message before the list arrives", () => {
    stubFetch({ "/api/v1/experiments": { body: [] } });
    render(<ExperimentList />);
    expect(screen.getByTestId("experiments-loading")).toBeInTheDocument();
  });

  it("says so when there are no experiments", async () => {
    stubFetch({ "/api/v1/experiments": { body: [] } });
    render(<ExperimentList />);
    expect(await screen.findByTestId("experiments-empty")).toHaveTextContent("No experiments yet.");
  });

  it("shows an error with a retry button when the request fails, and retries", async () => {
    let calls = 0;
    stubFetch({
      "/api/v1/experiments": () => (++calls === 1 ? { status: 500, body: {} } : { body: [makeExperiment()] }),
    });
    render(<ExperimentList />);
    const error = await screen.findByTestId("experiments-error");
    expect(error).toHaveTextContent("HTTP 500");
    fireEvent.click(within(error).getByRole("button", { name: "Try again" }));
    expect(await screen.findAllByTestId("experiment-row")).toHaveLength(1);
  });

  it.each([
    [401, UNAUTHORIZED_MESSAGE],
    [403, FORBIDDEN_MESSAGE],
  ])("tells the user what to do when the list answers HTTP %i", async (status, message) => {
    stubFetch({ "/api/v1/experiments": { status } });
    render(<ExperimentList />);
    expect(await screen.findByTestId("experiments-error")).toHaveTextContent(message);
  });
});
