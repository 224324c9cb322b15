/**
 * Data keys and the keys that wrap them: app-setting keys (AES key wrap) in process, Key Vault keys through the
 * real KeyClient / CryptographyClient and DefaultAzureCredential against the protocol-level stand-in (challenge,
 * managed-identity token, keys REST shapes). Each failure is checked for its spec code and for the key material
 * never appearing in it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { createDataKey, keyFingerprint, resolveKey, unwrapDataKey } from "../../shared/encryption/dataKeys";
import { useKeyVaultStandIn, type KeyVaultTestServer } from "../support/keyVaultServer";
import { expectPgVaultError } from "../secrets/leakCheck";

let kv: KeyVaultTestServer;
const envKeyText = randomBytes(32).toString("base64");
/** Material no error may contain. */
const material = [envKeyText];

beforeAll(async () => {
  kv = await useKeyVaultStandIn(inject("tls"));
  process.env.PGVAULT_TEST_KEK = envKeyText;
});
afterAll(() => kv?.close());

const keyUri = (name: string, version?: string) => `${kv.vaultUrl}/keys/${name}${version ? `/${version}` : ""}`;

describe("an app-setting key", () => {
  test("when a data key is created and unwrapped, then it round trips with AES key wrap and the key's fingerprint", async () => {
    const pinned = await resolveKey("env:PGVAULT_TEST_KEK");
    expect(pinned).toEqual({ keyRef: "env:PGVAULT_TEST_KEK", keyVersion: keyFingerprint(Buffer.from(envKeyText, "base64")) });
    expect(pinned.keyVersion).toMatch(/^sha256:[0-9a-f]{16}$/);
    const { dataKey, wrapped } = await createDataKey(pinned);
    expect(dataKey).toHaveLength(32);
    expect(wrapped).toMatchObject({ keyRef: "env:PGVAULT_TEST_KEK", keyVersion: pinned.keyVersion, algorithm: "A256KW" });
    expect(Buffer.from(wrapped.wrappedKey, "base64")).toHaveLength(40);
    expect((await unwrapDataKey(wrapped)).equals(dataKey)).toBe(true);
  });

  test("when the setting holds another key at restore, then UserErrorRecoveryPointCorrupted names both fingerprints", async () => {
    const { wrapped } = await createDataKey(await resolveKey("env:PGVAULT_TEST_KEK"));
    const other = randomBytes(32).toString("base64");
    process.env.PGVAULT_TEST_OTHER = other;
    const error = await expectPgVaultError(() => unwrapDataKey({ ...wrapped, keyRef: "env:PGVAULT_TEST_OTHER" }), "UserErrorRecoveryPointCorrupted", [...material, other]);
    expect(error.detail).toContain("cannot be decrypted with the encryption key in app setting 'PGVAULT_TEST_OTHER'");
    expect(error.detail).toContain(wrapped.keyVersion);
  });

  test("when the wrapped key was altered, then the key-wrap integrity check refuses it", async () => {
    const { wrapped } = await createDataKey(await resolveKey("env:PGVAULT_TEST_KEK"));
    const bytes = Buffer.from(wrapped.wrappedKey, "base64");
    bytes[5]! ^= 1;
    const error = await expectPgVaultError(() => unwrapDataKey({ ...wrapped, wrappedKey: bytes.toString("base64") }), "UserErrorRecoveryPointCorrupted", material);
    expect(error.detail).toContain("integrity check");
  });

  test("when the setting is missing or not a base64 256-bit key, then UserErrorSecretNotFound / UserErrorSecretValueInUnsupportedFormat", async () => {
    delete process.env.PGVAULT_TEST_MISSING;
    const missing = await expectPgVaultError(() => resolveKey("env:PGVAULT_TEST_MISSING"), "UserErrorSecretNotFound", material);
    expect(missing.detail).toContain("PGVAULT_TEST_MISSING");
    for (const bad of ["not a key", randomBytes(16).toString("base64"), randomBytes(33).toString("base64")]) {
      process.env.PGVAULT_TEST_BAD = bad;
      await expectPgVaultError(() => resolveKey("env:PGVAULT_TEST_BAD"), "UserErrorSecretValueInUnsupportedFormat", [bad]);
    }
  });

  test("when the reference is malformed, then UserErrorInvalidSecret without repeating it", async () => {
    for (const ref of ["env:", "env:1X", "http://x.vault.azure.net/keys/k", "https://evil.example.com/keys/k", `https://v.vault.azure.net/secrets/s`, "keys/k"]) {
      await expectPgVaultError(() => resolveKey(ref), "UserErrorInvalidSecret", ["evil.example.com"]);
    }
  });
});

describe("a Key Vault key", () => {
  test("when the key is resolved, then the latest version is pinned, and a data key wraps with RSA-OAEP-256 and unwraps with that version", async () => {
    kv.createKey("kek-basic");
    const latest = kv.createKey("kek-basic");
    const pinned = await resolveKey(keyUri("kek-basic"));
    expect(pinned).toEqual({ keyRef: keyUri("kek-basic"), keyVersion: latest });

    const mark = kv.requests.length;
    const { dataKey, wrapped } = await createDataKey(pinned);
    expect(wrapped).toMatchObject({ keyRef: keyUri("kek-basic"), keyVersion: latest, algorithm: "RSA-OAEP-256" });
    expect(Buffer.from(wrapped.wrappedKey, "base64")).toHaveLength(256);
    // Wrapped in Key Vault and unwrapped again to prove the backup can be restored; both on the pinned version.
    const operations = kv.requests.slice(mark).filter((r) => r.server === "vault" && r.method === "POST" && r.status === 200).map((r) => r.path);
    expect(operations).toEqual([`/keys/kek-basic/${latest}/wrapkey`, `/keys/kek-basic/${latest}/unwrapkey`]);

    // After a rotation, the recovery point still unwraps with the version it records.
    kv.createKey("kek-basic");
    expect((await unwrapDataKey(wrapped)).equals(dataKey)).toBe(true);
  });

  test("when the reference names a version, then that version is pinned", async () => {
    const first = kv.createKey("kek-pinned");
    kv.createKey("kek-pinned");
    expect((await resolveKey(keyUri("kek-pinned", first))).keyVersion).toBe(first);
  });

  test("when the key does not exist, then UserErrorSecretNotFound names it", async () => {
    const error = await expectPgVaultError(() => resolveKey(keyUri("no-such-key")), "UserErrorSecretNotFound", material);
    expect(error.detail).toContain("Key Vault key 'no-such-key'");
  });

  test("when the identity may not use the key, then UserErrorMissingPermissionsOnSecretStore, and the action names the crypto roles", async () => {
    kv.createKey("kek-forbidden");
    kv.forbid("kek-forbidden");
    const error = await expectPgVaultError(() => resolveKey(keyUri("kek-forbidden")), "UserErrorMissingPermissionsOnSecretStore", material);
    expect(error.detail).toContain("may not use the Key Vault key 'kek-forbidden'");
    expect(error.toJobError().recommendedAction).toContain("Key Vault Crypto");
  });

  test("when the key version that wrapped a data key is gone, then unwrapping fails with UserErrorSecretNotFound naming the version", async () => {
    const version = kv.createKey("kek-deleted");
    const { wrapped } = await createDataKey({ keyRef: keyUri("kek-deleted"), keyVersion: version });
    kv.deleteKey("kek-deleted");
    kv.createKey("kek-deleted"); // same name, new key: the old version is still gone
    const error = await expectPgVaultError(() => unwrapDataKey(wrapped), "UserErrorSecretNotFound", material);
    expect(error.detail).toContain(`version ${version}`);
  });

  test("when a data key is unwrapped with another key's version, then Key Vault's 400 becomes UserErrorRecoveryPointCorrupted", async () => {
    const version = kv.createKey("kek-one");
    const { wrapped } = await createDataKey({ keyRef: keyUri("kek-one"), keyVersion: version });
    const other = kv.createKey("kek-two");
    const error = await expectPgVaultError(
      () => unwrapDataKey({ ...wrapped, keyRef: keyUri("kek-two"), keyVersion: other }),
      "UserErrorRecoveryPointCorrupted",
      material,
    );
    expect(error.detail).toMatch(/cannot be decrypted with the Key Vault key 'kek-two' \(version \w+\).*HTTP 400/);
  });

  test("when the key does not permit wrapKey, then UserErrorInvalidSecret says so", async () => {
    kv.createKey("kek-signing", { keyOps: ["sign", "verify"] });
    const error = await expectPgVaultError(() => resolveKey(keyUri("kek-signing")), "UserErrorInvalidSecret", material);
    expect(error.detail).toContain("does not permit wrapKey and unwrapKey");
  });

  test("when Key Vault answers 503 throughout, then the failure is transient (the orchestration retries it)", async () => {
    const version = kv.createKey("kek-outage");
    kv.failNext(100);
    try {
      const error = await expectPgVaultError(() => createDataKey({ keyRef: keyUri("kek-outage"), keyVersion: version }), "SystemErrorUnexpected", material);
      expect(error.transient).toBe(true);
      expect(error.detail).toContain("Key Vault did not answer");
    } finally {
      kv.failNext(0);
    }
  });
});
