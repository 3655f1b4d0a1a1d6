import { act, render, renderHook } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { TokenCapture } from "@/components/TokenCapture";
import { TOKEN_COOKIE, clearToken, storeToken } from "@/lib/token";
import { useAuthToken } from "./useAuthToken";

afterEach(() => {
  clearToken();
  window.history.replaceState(null, "", "/");
});

describe("useAuthToken", () => {
  it("gives components the token from the URL after taking it into the cookie", () => {
    window.history.replaceState(null, "", "/results/exp-1/?token=abc");
    const { result } = renderHook(() => useAuthToken());
    expect(result.current).toBe("abc");
    expect(window.location.search).toBe("");
    expect(document.cookie).toContain(`${TOKEN_COOKIE}=abc`);
  });

  it("follows later changes of the stored token", () => {
    const { result } = renderHook(() => useAuthToken());
    expect(result.current).toBeNull();
    act(() => storeToken("next"));
    expect(result.current).toBe("next");
    act(() => clearToken());
    expect(result.current).toBeNull();
  });
});

describe("TokenCapture", () => {
  it("strips the token from the address bar as soon as the page mounts, keeping other parameters", () => {
    window.history.replaceState(null, "", "/?token=xyz&tab=details");
    render(<TokenCapture />);
    expect(window.location.search).toBe("?tab=details");
    expect(document.cookie).toContain(`${TOKEN_COOKIE}=xyz`);
  });
});
