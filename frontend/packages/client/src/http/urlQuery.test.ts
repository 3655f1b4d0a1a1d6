import { describe, expect, it } from "vitest";
import { appendQuery } from "./urlQuery";

describe("appendQuery", () => {
  it("adds the parameters after a question mark and encodes them", () => {
    expect(appendQuery("/a", { token: "x y/z", since_seq: 7 })).toBe("/a?token=x%20y%2Fz&since_seq=7");
  });

  it("joins with an ampersand when the URL already has a query and keeps the hash last", () => {
    expect(appendQuery("ws://h/p?x=1#frag", { since_seq: 3 })).toBe("ws://h/p?x=1&since_seq=3#frag");
  });

  it("skips null and undefined values and leaves the URL alone when nothing is left", () => {
    expect(appendQuery("/a", { token: null, since_seq: undefined })).toBe("/a");
    expect(appendQuery("/a", { token: null, since_seq: 0 })).toBe("/a?since_seq=0");
  });
});
