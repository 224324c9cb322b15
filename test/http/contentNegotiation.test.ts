/** Accept-header negotiation (shared/contentNegotiation.ts, RFC 9110 section 12.5.1) between JSON and CSV. */
import { describe, expect, test } from "vitest";
import { negotiate } from "../../shared/contentNegotiation";

const offered = ["application/json", "text/csv"] as const;

describe("negotiate", () => {
  test.each([
    [null, "application/json"],
    ["", "application/json"],
    ["*/*", "application/json"],
    ["text/csv", "text/csv"],
    ["TEXT/CSV; charset=utf-8", "text/csv"],
    ["text/*", "text/csv"],
    ["application/json;q=0.5, text/csv", "text/csv"],
    ["application/json, text/csv", "application/json"],
    ["text/csv;q=0.8, application/json;q=0.8", "application/json"],
    ["text/csv;q=0.9, */*;q=0.1", "text/csv"],
    ["*/*;q=0.5, application/json;q=0.1", "text/csv"],
    ["text/html, text/*;q=0.3, application/json;q=0.2", "text/csv"],
    ["application/json;q=0, */*", "text/csv"],
    ["text/csv;q=1.000, application/json;q=0.999", "text/csv"],
    ["text/csv;q=2, nonsense", "application/json"],
    ["text/csv;q=0.5, text/csv;q=0.7;x=1, application/json;q=0.6", "text/csv"],
  ])("when Accept is %j, then the answer is %s", (accept, expected) => {
    expect(negotiate(accept, offered)).toBe(expected);
  });

  test.each([["text/html"], ["application/xml, text/plain;q=0.5"], ["text/csv;q=0, application/json;q=0"], ["*/*;q=0"], ["image/*"]])(
    "when Accept is %j, then nothing offered is acceptable",
    (accept) => {
      expect(negotiate(accept, offered)).toBeUndefined();
    },
  );

  test("when a more specific range refuses a type, then a broader range does not bring it back", () => {
    expect(negotiate("text/csv;q=0, text/*", offered)).toBeUndefined();
    expect(negotiate("text/csv;q=0, */*", offered)).toBe("application/json");
  });
});
