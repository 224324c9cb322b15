/**
 * What the vault's answers about immutability mean (shared/recoveryPoints/immutability.ts), on the shapes the storage SDK's
 * errors have (`statusCode`, `code` from `x-ms-error-code`, `details.errorCode`). Azure's answers cannot be
 * produced locally (Azurite implements no immutability), so the shapes are written out here; the Azurite 501 and
 * a 409 `BlobImmutableDueToPolicy` through the SDK are in test/backup/immutability.test.ts.
 */
import { describe, expect, test } from "vitest";
import { immutabilityNotice, immutabilityRefusal, isImmutableBlobRefusal, isStorageEmulator, policyModeOf } from "../../shared/recoveryPoints/immutability";

describe("setting a policy", () => {
  test.each([
    ["Azurite's 501 APINotImplemented", { statusCode: 501, code: "APINotImplemented" }, "notSupported"],
    ["a 501 without a code", { statusCode: 501 }, "notSupported"],
    ["an APINotImplemented code in the details only", { statusCode: 501, details: { errorCode: "APINotImplemented" } }, "notSupported"],
    ["Azure's 409 for a container without version-level immutability", { statusCode: 409, code: "ImmutableStorageWithVersioningNotEnabled" }, "notSupported"],
    ["a 403 (the identity lacks immutableStorage/runAsSuperUser)", { statusCode: 403, code: "AuthorizationPermissionMismatch" }, "forbidden"],
  ])("when the vault answers %s, then it is a lasting refusal: %s", (_what, err, refusal) => {
    expect(immutabilityRefusal(err)).toBe(refusal);
  });

  test.each([
    ["a 500", { statusCode: 500, code: "InternalError" }],
    ["a 503", { statusCode: 503, code: "ServerBusy" }],
    ["a 404 (the blob is gone)", { statusCode: 404, code: "BlobNotFound" }],
    ["a network error", { code: "ECONNRESET" }],
    ["something that is not an error object", "boom"],
    ["undefined", undefined],
  ])("when the vault answers %s, then it is not a refusal (retried or failed as usual)", (_what, err) => {
    expect(immutabilityRefusal(err)).toBeUndefined();
  });

  test("when the setting is unlocked or locked, then the policy mode is Azure's Unlocked or Locked", () => {
    expect([policyModeOf("unlocked"), policyModeOf("locked")]).toEqual(["Unlocked", "Locked"]);
  });
});

describe("deleting an immutable blob", () => {
  test("when a delete is refused with 409 BlobImmutableDueToPolicy, then it is the immutability refusal retention keeps the point for", () => {
    expect(isImmutableBlobRefusal({ statusCode: 409, code: "BlobImmutableDueToPolicy" })).toBe(true);
    expect(isImmutableBlobRefusal({ statusCode: 409, details: { errorCode: "BlobImmutableDueToPolicy" } })).toBe(true);
  });

  test.each([
    ["a lease (412)", { statusCode: 412, code: "LeaseIdMissing" }],
    ["another 409", { statusCode: 409, code: "LeaseIdMissing" }],
    ["the code with another status", { statusCode: 400, code: "BlobImmutableDueToPolicy" }],
    ["a 501", { statusCode: 501, code: "APINotImplemented" }],
    ["no error object", null],
  ])("when a delete fails with %s, then it is an ordinary failure", (_what, err) => {
    expect(isImmutableBlobRefusal(err)).toBe(false);
  });
});

describe("the start-up notice", () => {
  const azurite =
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1";
  const azure = "DefaultEndpointsProtocol=https;AccountName=pgvaultprod;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net";

  test.each([
    ["an Azurite connection string", { kind: "connectionString" as const, connectionString: azurite }],
    ["the development storage shorthand", { kind: "connectionString" as const, connectionString: "UseDevelopmentStorage=true" }],
    ["a SAS connection string on loopback", { kind: "connectionString" as const, connectionString: "BlobEndpoint=http://localhost:10000/acct;SharedAccessSignature=sv=1" }],
    ["an identity connection on loopback", { kind: "identity" as const, blobServiceUri: "https://127.0.0.1:10000/devstoreaccount1", tableServiceUri: "https://127.0.0.1:10002/devstoreaccount1" }],
  ])("when the vault is %s and immutability is on, then the app says once that points will not be immutable", (_what, vault) => {
    expect(isStorageEmulator(vault)).toBe(true);
    expect(immutabilityNotice({ vault, vaultImmutability: "locked" })).toBe(
      "VAULT_IMMUTABILITY=locked, but the vault is the Azurite storage emulator, which has no immutability support: recovery points will not " +
        "be immutable here (backups carry on). In Azure, use a vault with version-level immutability.",
    );
  });

  test("when the vault is in Azure, or immutability is off, then nothing is said", () => {
    const inAzure = { kind: "connectionString" as const, connectionString: azure };
    const identity = { kind: "identity" as const, blobServiceUri: "https://pgvaultprod.blob.core.windows.net", tableServiceUri: "https://pgvaultprod.table.core.windows.net" };
    expect(immutabilityNotice({ vault: inAzure, vaultImmutability: "unlocked" })).toBeUndefined();
    expect(immutabilityNotice({ vault: identity, vaultImmutability: "locked" })).toBeUndefined();
    expect(immutabilityNotice({ vault: { kind: "connectionString", connectionString: azurite }, vaultImmutability: "off" })).toBeUndefined();
  });
});
