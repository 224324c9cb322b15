/**
 * Which `secretRef`s are accepted (SPEC section 5). The host check matters: the SDK hands a Key Vault token to
 * whatever host a reference names, so only Key Vault hosts (and loopback stand-ins) get through.
 */
import { describe, expect, test } from "vitest";
import { describeSecretRef, parseSecretRef } from "../../shared/secrets/secretRef";
import { expectPgVaultError } from "./leakCheck";

describe("a Key Vault secret URI", () => {
  test("when it names no version, then the latest version will be read", () => {
    expect(parseSecretRef("https://contoso.vault.azure.net/secrets/pg-backup")).toEqual({
      kind: "keyVault",
      vaultUrl: "https://contoso.vault.azure.net",
      name: "pg-backup",
      version: undefined,
      isLocalStandIn: false,
    });
  });

  test("when it names a version (with a trailing slash), then that version is kept", () => {
    const ref = parseSecretRef("https://contoso.vault.azure.net/secrets/pg-backup/0123456789abcdef0123456789abcdef/");
    expect(ref).toMatchObject({ kind: "keyVault", name: "pg-backup", version: "0123456789abcdef0123456789abcdef" });
  });

  test.each(["https://contoso.vault.azure.cn/secrets/x", "https://contoso.vault.usgovcloudapi.net/secrets/x", "https://hsm.managedhsm.azure.net/secrets/x"])(
    "when the host is a sovereign-cloud or HSM Key Vault host (%s), then it is accepted",
    (ref) => {
      expect(parseSecretRef(ref)).toMatchObject({ kind: "keyVault", name: "x", isLocalStandIn: false });
    },
  );

  test("when the host is loopback, then it is accepted as a local stand-in", () => {
    expect(parseSecretRef("https://127.0.0.1:8443/secrets/x")).toMatchObject({
      vaultUrl: "https://127.0.0.1:8443",
      isLocalStandIn: true,
    });
  });

  test("when it is described for a message, then it names the secret and the vault only", () => {
    expect(describeSecretRef(parseSecretRef("https://contoso.vault.azure.net/secrets/pg-backup"))).toBe(
      "Key Vault secret 'pg-backup' in https://contoso.vault.azure.net",
    );
  });
});

describe("an app setting reference", () => {
  test("when it is env:PGVAULT_SECRET_NAME, then it names that app setting", () => {
    expect(parseSecretRef("env:PGVAULT_SECRET_BACKUP_CONN")).toEqual({ kind: "env", name: "PGVAULT_SECRET_BACKUP_CONN" });
  });

  test.each(["env:PG_BACKUP_CONN", "env:AzureWebJobsStorage", "env:PGVAULT_API_KEY", "env:pgvault_secret_lower", "env:PGVAULT_SECRET_"])(
    "when it is %j (outside the PGVAULT_SECRET_ prefix), then it is invalid and the message names the rule",
    async (ref) => {
      const error = await expectPgVaultError(() => parseSecretRef(ref), "UserErrorInvalidSecret", []);
      expect(error.detail).toContain("without the prefix PGVAULT_SECRET_");
    },
  );

  test.each(["env:", "env:1ABC", "env:A-B", "env:A B"])("when it is %j, then it is invalid", async (ref) => {
    await expectPgVaultError(() => parseSecretRef(ref), "UserErrorInvalidSecret", []);
  });
});

describe("a malformed reference", () => {
  test.each([
    ["plain http", "http://contoso.vault.azure.net/secrets/x"],
    ["a host that is not Key Vault", "https://evil.example.com/secrets/x"],
    ["a look-alike host", "https://contoso.vault.azure.net.evil.example.com/secrets/x"],
    ["a path outside /secrets", "https://contoso.vault.azure.net/keys/x"],
    ["a nested path", "https://contoso.vault.azure.net/secrets/x/0123/extra"],
    ["an encoded slash in the name", "https://contoso.vault.azure.net/secrets/a%2Fb"],
    ["a query", "https://contoso.vault.azure.net/secrets/x?api-version=7.4"],
    ["a fragment", "https://contoso.vault.azure.net/secrets/x#v"],
    ["credentials in the URI", "https://user:pw@contoso.vault.azure.net/secrets/x"],
    ["not a URI at all", "pg-backup"],
    ["an empty string", ""],
  ])("when it has %s, then it is UserErrorInvalidSecret", async (_label, ref) => {
    // "pw" is the only secret-ish text here; the message may quote the host or path, never URI credentials.
    const error = await expectPgVaultError(() => parseSecretRef(ref), "UserErrorInvalidSecret", [":pw@"]);
    expect(error.transient).toBe(false);
  });
});
