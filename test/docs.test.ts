import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { errorCatalog } from "../shared/errors";

test("when an error code exists, then docs/troubleshooting.md explains it under its own heading", () => {
  const doc = readFileSync("docs/troubleshooting.md", "utf8");
  const headings = [...doc.matchAll(/^### (\w+)$/gm)].map((m) => m[1]);
  expect(headings.sort()).toEqual(Object.keys(errorCatalog).sort());
});
