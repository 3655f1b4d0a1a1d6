import { afterEach, describe, expect, it, vi } from "vitest";
import { makeExperiment } from "@test-support/experiments";
import { stubFetch } from "@test-support/fetchMock";
import { makeSnapshot } from "@test-support/mockWebSocket";
import {
  ApiError,
  apiRefusalMessage,
  authHeaders,
  fetchExperiment,
  fetchExperiments,
  fetchResults,
  fetchResultsHistory,
  getResults,
  getResultsHistory,
} from "./api";
import { FORBIDDEN_MESSAGE, UNAUTHORIZED_MESSAGE } from "./authMessages";

afterEach(() => {
  vi.unstubAllGlobals();
});

const authorization = (fetchMock: ReturnType<typeof stubFetch>, call = 0) =>
  new Headers((fetchMock.mock.calls[call][1] as RequestInit).headers).get("Authorization");

describe("API client", () => {
  it("fetches the experiment list relative to the page origin", async () => {
    const list = [makeExperiment()];
    const fetchMock = stubFetch({ "/api/v1/experiments": { body: list } });
    await expect(fetchExperiments()).resolves.toEqual(list);
    expect(fetchMock).toHaveBeenCalledTimes(1);
  });

  it("fetches from baseUrl when it is given", async () => {
    stubFetch({ "http://localhost:8000/api/v1/experiments/exp-1": { body: makeExperiment() } });
    await expect(fetchExperiment("exp-1", { baseUrl: "http://localhost:8000/" })).resolves.toMatchObject({ id: "exp-1" });
  });

  it("rejects with an ApiError carrying the status for an unknown experiment", async () => {
    stubFetch({});
    const error = await fetchExperiment("missing").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
  });

  it("sends Authorization: Bearer with the token, given as a string or a function called per request", async () => {
    const fetchMock = stubFetch({ "/api/v1/experiments": { body: [] } });
    await fetchExperiments({ token: "secret" });
    let current = "first";
    const token = vi.fn(() => current);
    await fetchExperiments({ token });
    current = "second";
    await fetchExperiments({ token });
    expect([0, 1, 2].map((call) => authorization(fetchMock, call))).toEqual(["Bearer secret", "Bearer first", "Bearer second"]);
  });

  it("sends no Authorization header without a token (none, null, empty, or a function giving none)", async () => {
    const fetchMock = stubFetch({ "/api/v1/experiments/exp-1": { body: makeExperiment() } });
    for (const token of [undefined, null, "", () => null]) await fetchExperiment("exp-1", { token });
    expect(fetchMock.mock.calls.map((_, call) => authorization(fetchMock, call))).toEqual([null, null, null, null]);
  });

  it("long-polls the results with after_seq and wait, and with the token", async () => {
    const fetchMock = stubFetch({ "/api/v1/experiments/exp-1/results?after_seq=7&wait=25": { body: { seq: 8 } } });
    await expect(fetchResults("exp-1", { afterSeq: 7, waitSeconds: 25, token: "stored" })).resolves.toEqual({ seq: 8 });
    expect(authorization(fetchMock)).toBe("Bearer stored");
  });

  it("fetches the results history with the token as a Bearer header", async () => {
    const body = { experiment_id: "exp-1", points: [] };
    const fetchMock = stubFetch({ "/api/v1/experiments/exp-1/results/history": { body } });
    await expect(fetchResultsHistory("exp-1", { token: "stored" })).resolves.toEqual(body);
    expect(authorization(fetchMock)).toBe("Bearer stored");
  });

  it("gives the current snapshot validated, and null for a body that is not one", async () => {
    const { event: _event, ...plain } = makeSnapshot({ seq: 9 });
    stubFetch({
      "http://h/api/v1/experiments/exp-1/results": { body: plain },
      "http://h/api/v1/experiments/exp-2/results": { body: { detail: "?" } },
    });
    await expect(getResults("exp-1", { baseUrl: "http://h" })).resolves.toEqual(makeSnapshot({ seq: 9 }));
    await expect(getResults("exp-2", { baseUrl: "http://h" })).resolves.toBeNull();
  });

  it("gives the history's valid points, oldest first", async () => {
    const point = (seq: number) => ({ seq, timestamp: "2024-05-01T12:00:00+00:00", variants: [{ key: "green", relative_lift: 0.1, lift_ci: null }] });
    stubFetch({ "/api/v1/experiments/exp-1/results/history": { body: { experiment_id: "exp-1", points: [point(3), { seq: "x" }, point(2)] } } });
    expect((await getResultsHistory("exp-1")).map((p) => p.seq)).toEqual([2, 3]);
  });

  it("names 401 and 403 answers in words the user can act on", async () => {
    stubFetch({ "/api/v1/experiments": { status: 401 }, "/api/v1/experiments/exp-1": { status: 403 } });
    expect(apiRefusalMessage(await fetchExperiments().catch((e: unknown) => e))).toBe(UNAUTHORIZED_MESSAGE);
    expect(apiRefusalMessage(await fetchExperiment("exp-1").catch((e: unknown) => e))).toBe(FORBIDDEN_MESSAGE);
    expect(apiRefusalMessage(new ApiError(500, "x"))).toBeNull();
  });

  it("builds the Authorization header only for a token", () => {
    expect(authHeaders("t")).toEqual({ Authorization: "Bearer t" });
    expect(authHeaders(null)).toEqual({});
  });
});
