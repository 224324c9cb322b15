/**
 * Which `encryption.keyRef`s are accepted: the same host rules as secretRef (the SDK hands a Key Vault token to
 * whatever host a reference names), a /keys/ path, or env:<NAME>. Refusals never repeat the reference.
 */
import { describe, expect, test } from "vitest";
import { describeKeyRef, parseKeyRef } from "../../shared/secrets/keyRef";
import { expectPgVaultError } from "./leakCheck";

describe("a key reference", () => {
  test("when it is a Key Vault key URI without a version, then the latest version will be used", () => {
    expect(parseKeyRef("https://contoso.vault.azure.net/keys/backup-kek")).toEqual({
      kind: "keyVault",
      vaultUrl: "https://contoso.vault.azure.net",
      name: "backup-kek",
      version: undefined,
      isLocalStandIn: false,
    });
  });

  test("when it names a version, a sovereign cloud, a managed HSM or a loopback stand-in, then it is accepted", () => {
    expect(parseKeyRef("https://contoso.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef/")).toMatchObject({ version: "0123456789abcdef0123456789abcdef" });
    expect(parseKeyRef("https://contoso.vault.usgovcloudapi.net/keys/k")).toMatchObject({ kind: "keyVault", isLocalStandIn: false });
    expect(parseKeyRef("https://hsm.managedhsm.azure.net/keys/k")).toMatchObject({ kind: "keyVault", isLocalStandIn: false });
    expect(parseKeyRef("https://127.0.0.1:8443/keys/k")).toMatchObject({ vaultUrl: "https://127.0.0.1:8443", isLocalStandIn: true });
    expect(parseKeyRef("env:PGVAULT_KEK")).toEqual({ kind: "env", name: "PGVAULT_KEK" });
  });

  test("when it is described for a message, then it names the key (and version) and the vault only", () => {
    expect(describeKeyRef(parseKeyRef("https://contoso.vault.azure.net/keys/backup-kek"), "abc")).toBe(
      "Key Vault key 'backup-kek' (version abc) in https://contoso.vault.azure.net",
    );
    expect(describeKeyRef(parseKeyRef("env:PGVAULT_KEK"))).toBe("encryption key in app setting 'PGVAULT_KEK'");
  });

  test.each([
    "https://attacker.example.com/keys/k",
    "https://contoso.vault.azure.net.attacker.example.com/keys/k",
    "http://contoso.vault.azure.net/keys/k",
    "https://contoso.vault.azure.net/secrets/k",
    "https://contoso.vault.azure.net/keys/k?api-version=7.4",
    "https://user:pass@contoso.vault.azure.net/keys/k",
    "https://contoso.vault.azure.net/keys/k/v/wrapkey",
    "env:",
    "env:NAME WITH SPACES",
    "c2VjcmV0LWtleS1tYXRlcmlhbA==",
  ])("when it is %s, then UserErrorInvalidSecret, without repeating it", async (ref) => {
    // ("env:" alone is also in the message's own hint, env:<NAME>.)
    const error = await expectPgVaultError(() => parseKeyRef(ref), "UserErrorInvalidSecret", [ref === "env:" ? "env:," : ref, "attacker", "pass@", "c2VjcmV0"]);
    expect(error.detail).toMatch(/^keyRef /);
  });
});
