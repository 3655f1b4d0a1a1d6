import { afterEach, describe, expect, it, vi } from "vitest";
import { makeExperiment } from "@/test/experiments";
import { stubFetch } from "@/test/fetchMock";
import { ApiError, apiRefusalMessage, fetchExperiment, fetchExperiments, fetchResults, fetchResultsHistory } from "./api";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE } from "./authMessages";
import { clearToken, storeToken } from "./token";

afterEach(() => {
  clearToken();
  window.history.replaceState(null, "", "/");
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

describe("API client", () => {
  it("fetches the experiment list relative to the page origin", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    const list = [makeExperiment()];
    const fetchMock = stubFetch({ "/api/v1/experiments": { body: list } });
    await expect(fetchExperiments()).resolves.toEqual(list);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it("fetches from NEXT_PUBLIC_API_URL when it is set", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "http://localhost:8000");
    stubFetch({ "http://localhost:8000/api/v1/experiments/exp-1": { body: makeExperiment() } });
    await expect(fetchExperiment("exp-1")).resolves.toMatchObject({ id: "exp-1" });
  });

  it("rejects with an ApiError carrying the status for an unknown experiment", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    stubFetch({});
    const error = await fetchExperiment("missing").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
  });

  it("sends Authorization: Bearer with the token taken from the page URL", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    window.history.replaceState(null, "", "/?token=secret");
    const fetchMock = stubFetch({ "/api/v1/experiments": { body: [] } });
    await fetchExperiments();
    const init = fetchMock.mock.calls[0][1] as RequestInit;
    expect(new Headers(init.headers).get("Authorization")).toBe("Bearer secret");
    expect(window.location.search).toBe("");
  });

  it("sends no Authorization header when no token is known", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    const fetchMock = stubFetch({ "/api/v1/experiments/exp-1": { body: makeExperiment() } });
    await fetchExperiment("exp-1");
    const init = fetchMock.mock.calls[0][1] as RequestInit;
    expect(new Headers(init.headers).has("Authorization")).toBe(false);
  });

  it("long-polls the results with after_seq and wait, and with the stored token", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    storeToken("stored");
    const fetchMock = stubFetch({ "/api/v1/experiments/exp-1/results?after_seq=7&wait=25": { body: { seq: 8 } } });
    await expect(fetchResults("exp-1", { afterSeq: 7, waitSeconds: 25 })).resolves.toEqual({ seq: 8 });
    expect(new Headers((fetchMock.mock.calls[0][1] as RequestInit).headers).get("Authorization")).toBe("Bearer stored");
  });

  it("fetches the results history with the stored token as a Bearer header", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    storeToken("stored");
    const body = { experiment_id: "exp-1", points: [] };
    const fetchMock = stubFetch({ "/api/v1/experiments/exp-1/results/history": { body } });
    await expect(fetchResultsHistory("exp-1")).resolves.toEqual(body);
    expect(new Headers((fetchMock.mock.calls[0][1] as RequestInit).headers).get("Authorization")).toBe("Bearer stored");
  });

  it("names 401 and 403 answers in words the user can act on", async () => {
    vi.stubEnv("NEXT_PUBLIC_API_URL", "");
    stubFetch({ "/api/v1/experiments": { status: 401 }, "/api/v1/experiments/exp-1": { status: 403 } });
    expect(apiRefusalMessage(await fetchExperiments().catch((e: unknown) => e))).toBe(UNAUTHORIZED_MESSAGE);
    expect(apiRefusalMessage(await fetchExperiment("exp-1").catch((e: unknown) => e))).toBe(FORBIDDEN_MESSAGE);
    expect(apiRefusalMessage(new ApiError(500, "x"))).toBeNull();
  });
});
