/**
 * resolveSecret end to end: the real SecretClient and DefaultAzureCredential against the protocol-level Key Vault
 * stand-in (bearer challenge, App Service managed-identity token, secrets REST shapes and error bodies).
 *
 * Tests run in order and share one server and one memoized credential (as one Functions worker would): the first
 * story is the first read, so it is the one that sees the challenge.
 */
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { resolveSecret } from "../../shared/secrets/resolveSecret";
import { keyVaultResource, startKeyVaultServer, type KeyVaultTestServer, type LoggedRequest } from "../support/keyVaultServer";
import { expectNoSecretIn, expectPgVaultError } from "./leakCheck";

let kv: KeyVaultTestServer;
/** Every value and password these tests store; no error may contain any of them. */
const secretTexts: string[] = [];

function uri(user: string, password: string, sslMode = "require"): string {
  secretTexts.push(password);
  const value = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@ignored.example.com:5432/ignored?sslmode=${sslMode}`;
  secretTexts.push(value);
  return value;
}

function store(name: string, value: string): string {
  secretTexts.push(value);
  return kv.setSecret(name, value);
}

function ref(name: string, version?: string): string {
  return `${kv.vaultUrl}/secrets/${name}${version ? `/${version}` : ""}`;
}

/** Requests logged while `action` ran; its own assertions still fail the test. */
async function requestsDuring(action: () => Promise<unknown>): Promise<LoggedRequest[]> {
  const mark = kv.requests.length;
  await action();
  return kv.requests.slice(mark);
}

const authorizedSecretReads = (log: LoggedRequest[]) => log.filter((r) => r.server === "vault" && r.bearer);

beforeAll(async () => {
  kv = await startKeyVaultServer(inject("tls"));
  // DefaultAzureCredential finds an App Service managed identity through these; set before its first use.
  process.env.IDENTITY_ENDPOINT = kv.identityEndpoint;
  process.env.IDENTITY_HEADER = kv.identityHeader;
});

afterAll(async () => {
  delete process.env.IDENTITY_ENDPOINT;
  delete process.env.IDENTITY_HEADER;
  await kv?.close();
  // The stand-in's log holds shapes only; a value there would mean the log itself leaks.
  const log = JSON.stringify(kv?.requests ?? []);
  for (const text of secretTexts) expect(log).not.toContain(text);
});

describe("reading a Key Vault secret", () => {
  test("when the app reads its first secret, then it answers the vault's challenge with a managed-identity token", async () => {
    const version = store("first-read", uri("backup_user", "Ch@llenge;P@ss"));
    const log = await requestsDuring(async () => {
      const resolved = await resolveSecret(ref("first-read"));
      expect(resolved).toEqual({
        credentials: { user: "backup_user", password: "Ch@llenge;P@ss", sslMode: "require" },
        server: { host: "ignored.example.com", port: 5432 },
        description: `Key Vault secret 'first-read' in ${kv.vaultUrl}`,
        version,
      });
    });
    expect(log.map(({ server, bearer, status }) => ({ server, bearer, status }))).toEqual([
      { server: "vault", bearer: false, status: 401 },
      { server: "identity", bearer: true, status: 200 },
      { server: "vault", bearer: true, status: 200 },
    ]);
    // The token is asked for the resource the challenge named (scope "<resource>/.default" minus "/.default").
    expect(log[1]?.resource).toBe(keyVaultResource);
  });

  test("when a secret was rotated, then the latest version's credentials come back with that version's id", async () => {
    store("rotated", uri("backup_user", "Old-Passw0rd"));
    const latest = store("rotated", uri("backup_user", "New-Passw0rd", "verify-full"));
    const log = await requestsDuring(async () => {
      const resolved = await resolveSecret(ref("rotated"));
      expect(resolved.credentials).toEqual({ user: "backup_user", password: "New-Passw0rd", sslMode: "verify-full" });
      expect(resolved.version).toBe(latest);
    });
    // The token is cached now: no second challenge, no second token request.
    expect(log.map(({ server, bearer, status }) => ({ server, bearer, status }))).toEqual([{ server: "vault", bearer: true, status: 200 }]);
  });

  test("when a job pins the version it first read, then a rotation after that does not change what it gets", async () => {
    const pinned = store("pinned", uri("backup_user", "Pinned-Passw0rd"));
    const firstRead = await resolveSecret(ref("pinned"));
    store("pinned", uri("backup_user", "Rotated-Passw0rd"));

    const laterStep = await resolveSecret(ref("pinned"), firstRead.version);
    expect(laterStep).toMatchObject({ credentials: { user: "backup_user", password: "Pinned-Passw0rd", sslMode: "require" }, version: pinned });
    expect((await resolveSecret(ref("pinned"))).credentials.password).toBe("Rotated-Passw0rd");
  });

  test("when the reference itself names a version, then exactly that version is read", async () => {
    const old = store("versioned-ref", uri("backup_user", "V1-Passw0rd"));
    store("versioned-ref", uri("backup_user", "V2-Passw0rd"));
    const log = await requestsDuring(async () => {
      const resolved = await resolveSecret(ref("versioned-ref", old));
      expect(resolved).toMatchObject({ credentials: { password: "V1-Passw0rd" }, version: old });
    });
    expect(authorizedSecretReads(log).map((r) => r.path)).toEqual([`/secrets/versioned-ref/${old}`]);
  });

  test("when the value is an ADO.NET-style string with a quoted password, then it is parsed from the vault too", async () => {
    const value = 'Server=ignored;Database=ignored;Port=5432;User Id=ado_user;Password="Semi;Colon""Quote";Ssl Mode=Require;';
    secretTexts.push('Semi;Colon"Quote');
    const version = store("ado-net", value);
    expect(await resolveSecret(ref("ado-net"))).toEqual({
      credentials: { user: "ado_user", password: 'Semi;Colon"Quote', sslMode: "require" },
      server: { host: "ignored", port: 5432 },
      description: `Key Vault secret 'ado-net' in ${kv.vaultUrl}`,
      version,
    });
  });
});

describe("Key Vault failures", () => {
  test("when the secret does not exist, then UserErrorSecretNotFound names it and is not retried", async () => {
    const log = await requestsDuring(async () => {
      const error = await expectPgVaultError(() => resolveSecret(ref("no-such-secret")), "UserErrorSecretNotFound", secretTexts);
      expect(error.message).toContain("no-such-secret");
      expect(error.transient).toBe(false);
    });
    expect(authorizedSecretReads(log).map((r) => r.status)).toEqual([404]);
  });

  test("when a pinned version does not exist, then UserErrorSecretNotFound", async () => {
    store("has-versions", uri("backup_user", "Exists-Passw0rd"));
    await expectPgVaultError(
      () => resolveSecret(ref("has-versions"), "ffffffffffffffffffffffffffffffff"),
      "UserErrorSecretNotFound",
      secretTexts,
    );
  });

  test("when the identity may not read the secret (403), then UserErrorMissingPermissionsOnSecretStore, not retried", async () => {
    store("forbidden", uri("backup_user", "Forbidden-Passw0rd"));
    kv.forbid("forbidden");
    const log = await requestsDuring(async () => {
      const error = await expectPgVaultError(() => resolveSecret(ref("forbidden")), "UserErrorMissingPermissionsOnSecretStore", secretTexts);
      expect(error.message).toContain("HTTP 403");
      expect(error.transient).toBe(false);
    });
    expect(authorizedSecretReads(log).map((r) => r.status)).toEqual([403]);
  });

  test("when Key Vault answers 503 three times, then the SDK's own retries absorb it (1 try + 3 retries)", async () => {
    const version = store("flaky", uri("backup_user", "Flaky-Passw0rd"));
    kv.failNext(3);
    const log = await requestsDuring(async () => {
      expect((await resolveSecret(ref("flaky"))).version).toBe(version);
    });
    expect(authorizedSecretReads(log).map((r) => r.status)).toEqual([503, 503, 503, 200]);
  });

  test("when Key Vault answers 503 beyond the SDK's retries, then a transient error, and a later call succeeds", async () => {
    const version = store("down", uri("backup_user", "Down-Passw0rd"));
    kv.failNext(4);
    const log = await requestsDuring(async () => {
      const error = await expectPgVaultError(() => resolveSecret(ref("down")), "SystemErrorUnexpected", secretTexts);
      expect(error.transient).toBe(true);
      expect(error.message).toContain("HTTP 503");
    });
    // The SDK gave up after exactly four attempts, so the orchestrator's retry is what comes next.
    expect(authorizedSecretReads(log).map((r) => r.status)).toEqual([503, 503, 503, 503]);

    const retried = await resolveSecret(ref("down"));
    expect(retried.version).toBe(version);
  });

  test("when the stored value is in no supported format, then UserErrorSecretValueInUnsupportedFormat without the value", async () => {
    store("bad-format", "password is Unsupported-Passw0rd");
    store("bad-format-2", "postgres://only_user_no_password@ignored/db");
    await expectPgVaultError(() => resolveSecret(ref("bad-format")), "UserErrorSecretValueInUnsupportedFormat", secretTexts);
    await expectPgVaultError(() => resolveSecret(ref("bad-format-2")), "UserErrorSecretValueInUnsupportedFormat", [
      ...secretTexts,
      "only_user_no_password",
    ]);
  });
});

describe("app setting references", () => {
  test("when env:NAME is set, then its credentials come back with version 'env' and Key Vault is not called", async () => {
    process.env.PGVAULT_SECRET_TEST_CONN = "Server=h;User Id=env_user;Password=Env-Passw0rd;Ssl Mode=Disable";
    secretTexts.push(process.env.PGVAULT_SECRET_TEST_CONN, "Env-Passw0rd");
    try {
      const log = await requestsDuring(async () => {
        expect(await resolveSecret("env:PGVAULT_SECRET_TEST_CONN", "some-pinned-version")).toEqual({
          credentials: { user: "env_user", password: "Env-Passw0rd", sslMode: "disable" },
          server: { host: "h", port: 5432 },
          description: "app setting 'PGVAULT_SECRET_TEST_CONN'",
          version: "env",
        });
      });
      expect(log).toEqual([]);
    } finally {
      delete process.env.PGVAULT_SECRET_TEST_CONN;
    }
  });

  test("when env:NAME is missing or empty, then UserErrorSecretNotFound names the setting", async () => {
    delete process.env.PGVAULT_SECRET_TEST_MISSING;
    const error = await expectPgVaultError(() => resolveSecret("env:PGVAULT_SECRET_TEST_MISSING"), "UserErrorSecretNotFound", secretTexts);
    expect(error.message).toContain("PGVAULT_SECRET_TEST_MISSING");

    process.env.PGVAULT_SECRET_TEST_EMPTY = "";
    try {
      await expectPgVaultError(() => resolveSecret("env:PGVAULT_SECRET_TEST_EMPTY"), "UserErrorSecretNotFound", secretTexts);
    } finally {
      delete process.env.PGVAULT_SECRET_TEST_EMPTY;
    }
  });
});

describe("malformed references", () => {
  test.each([
    ["plain http", () => ref("x").replace("https://", "http://")],
    ["a host that is not Key Vault", () => "https://evil.example.com/secrets/x"],
    ["a bad path", () => `${kv.vaultUrl}/keys/x`],
    ["a query", () => `${ref("x")}?api-version=7.4`],
  ])("when the reference has %s, then UserErrorInvalidSecret and no request (or token) goes anywhere", async (_label, makeRef) => {
    const log = await requestsDuring(async () => {
      await expectPgVaultError(() => resolveSecret(makeRef()), "UserErrorInvalidSecret", secretTexts);
    });
    expect(log).toEqual([]);
  });
});

test("when every failure above was raised, then none quoted a value (a final sweep over a fresh error of each kind)", async () => {
  // Belt and braces beyond the per-test checks: stringify whole errors, causes included, for each failure kind.
  const refs = [ref("no-such-secret"), ref("forbidden"), ref("bad-format"), "env:PGVAULT_SECRET_TEST_MISSING", "https://evil.example.com/secrets/x"];
  for (const secretRef of refs) {
    const error = await resolveSecret(secretRef).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error, secretRef).toBeInstanceOf(Error);
    expectNoSecretIn(error, secretTexts);
    const cause = (error as Error).cause;
    if (cause !== undefined) expectNoSecretIn(cause, secretTexts);
  }
});
