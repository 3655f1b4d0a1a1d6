import { afterEach, describe, expect, it, vi } from "vitest";
import { makeExperiment } from "@/test/experiments";
import { stubFetch } from "@/test/fetchMock";
import { ApiError, fetchExperiment, fetchExperiments } from "./api";

afterEach(() => {
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
});
