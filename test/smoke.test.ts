import { expect, inject, test } from "vitest";
test("env", () => {
  expect(process.env.NODE_EXTRA_CA_CERTS).toBe(inject("tls").certFile);
  expect(process.env.VaultStorage).toContain("BlobEndpoint");
});
