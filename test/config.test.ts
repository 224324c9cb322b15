/**
 * App settings (SPEC section 10): `loadConfig` reads an explicit environment and refuses a missing or malformed
 * setting with a message naming it, so the app fails at start instead of at the first backup.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as realFs from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { ConfigError, loadConfig, type AppConfig } from "../shared/config";

/**
 * A stand-in for /usr/lib/postgresql (entry name -> whether its bin holds pg_dump), or undefined to use the real
 * file system. The mock passes every other path (and everything while this is undefined) to the real module.
 */
const fakePostgresRoot = vi.hoisted(() => ({ entries: undefined as Record<string, boolean> | undefined }));

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const root = "/usr/lib/postgresql";
  const existsSync = (target: realFs.PathLike): boolean => {
    const entries = fakePostgresRoot.entries;
    const text = String(target);
    if (!entries || !text.startsWith(root)) return fs.existsSync(target);
    if (text === root) return true;
    const match = /^\/usr\/lib\/postgresql\/([^/]+)\/bin\/pg_dump$/.exec(text);
    return match?.[1] !== undefined && entries[match[1]] === true;
  };
  const readdirSync = (target: realFs.PathLike, ...rest: unknown[]): unknown => {
    const entries = fakePostgresRoot.entries;
    if (entries && String(target) === root) return Object.keys(entries);
    return (fs.readdirSync as (p: realFs.PathLike, ...r: unknown[]) => unknown)(target, ...rest);
  };
  return { ...fs, default: { ...fs, existsSync, readdirSync }, existsSync, readdirSync };
});

const accountKeyConnection =
  "DefaultEndpointsProtocol=https;AccountName=pgvaultprod;AccountKey=c2VjcmV0LWtleQ==;EndpointSuffix=core.windows.net";

const scratch = mkdtempSync(path.join(tmpdir(), "pgvault-config-"));
const binWithPgDump = path.join(scratch, "with-pg-dump");
const binWithoutPgDump = path.join(scratch, "without-pg-dump");
mkdirSync(binWithPgDump);
mkdirSync(binWithoutPgDump);
writeFileSync(path.join(binWithPgDump, "pg_dump"), "#!/bin/sh\n", { mode: 0o755 });
writeFileSync(path.join(binWithoutPgDump, "pg_restore"), "#!/bin/sh\n", { mode: 0o755 });
const caBundle = path.join(scratch, "ca.pem");
writeFileSync(caBundle, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");

afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(() => {
  fakePostgresRoot.entries = undefined;
});

/** A loadConfig that must fail: the ConfigError's message. */
function configErrorOf(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error("expected loadConfig to fail, but it succeeded");
}

describe("VaultStorage as a connection string", () => {
  test("when it is an account-key connection string, then it is used as is", () => {
    const config: AppConfig = loadConfig({ VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump, PG_SSL_ROOT_CERT: caBundle });
    expect(config).toEqual({
      vault: { kind: "connectionString", connectionString: accountKeyConnection },
      pgBinDir: binWithPgDump,
      schedulerSchedule: "0 */5 * * * *",
      armEndpoint: "https://management.azure.com",
      flexBackupTimeoutMs: 6 * 3600_000,
      vaultImmutability: "unlocked",
      softDeleteRetentionDays: 14,
      maxConcurrentDumps: 2,
      minSslMode: "require",
      entraSignInHosts: [],
      pgSslRootCert: caBundle,
    });
  });

  test("when SCHEDULER_SCHEDULE is set, then it is used; when it is not six NCRONTAB fields, then start-up fails naming it", () => {
    expect(loadConfig({ VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump, SCHEDULER_SCHEDULE: "0 0 * * * *" }).schedulerSchedule).toBe("0 0 * * * *");
    expect(() => loadConfig({ VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump, SCHEDULER_SCHEDULE: "*/5 * * * *" })).toThrow(/SCHEDULER_SCHEDULE/);
  });

  test.each(["UseDevelopmentStorage=true", "UseDevelopmentStorage=true;", "usedevelopmentstorage=TRUE", "  UseDevelopmentStorage=true \n"])(
    "when it is the development storage shorthand %j, then it is accepted (trimmed)",
    (VaultStorage) => {
      expect(loadConfig({ VaultStorage, PG_BIN_DIR: binWithPgDump }).vault).toEqual({
        kind: "connectionString",
        connectionString: VaultStorage.trim(),
      });
    },
  );

  test.each([
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;SharedAccessSignature=sv=2024-01-01&sig=abc",
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;",
  ])("when it is an endpoint-style connection string, then it is accepted", (VaultStorage) => {
    expect(loadConfig({ VaultStorage, PG_BIN_DIR: binWithPgDump }).vault).toEqual({ kind: "connectionString", connectionString: VaultStorage });
  });

  test.each(["garbage", "UseDevelopmentStorage=false", "https://pgvaultprod.blob.core.windows.net", "AccountKey=c2VjcmV0LWtleQ=="])(
    "when it is %j, then start-up fails naming VaultStorage without echoing the value",
    (VaultStorage) => {
      const message = configErrorOf({ VaultStorage, PG_BIN_DIR: binWithPgDump });
      expect(message).toBe("App setting VaultStorage is not a storage connection string (no AccountName or BlobEndpoint).");
      expect(message).not.toContain(VaultStorage);
    },
  );

  test("when it is set alongside identity settings, then the connection string wins", () => {
    const env = {
      VaultStorage: "UseDevelopmentStorage=true",
      VaultStorage__blobServiceUri: "https://pgvaultprod.blob.core.windows.net",
      PG_BIN_DIR: binWithPgDump,
    };
    expect(loadConfig(env).vault).toEqual({ kind: "connectionString", connectionString: "UseDevelopmentStorage=true" });
  });
});

describe("VaultStorage as an identity-based connection", () => {
  const blobServiceUri = "https://pgvaultprod.blob.core.windows.net";
  const tableServiceUri = "https://pgvaultprod.table.core.windows.net";

  test("when both service URIs are set, then an identity connection is used with optional credential and client id", () => {
    const env = {
      VaultStorage__blobServiceUri: blobServiceUri,
      VaultStorage__tableServiceUri: ` ${tableServiceUri} `,
      VaultStorage__credential: "managedidentity",
      VaultStorage__clientId: "00000000-0000-0000-0000-000000000001",
      PG_BIN_DIR: binWithPgDump,
    };
    expect(loadConfig(env).vault).toEqual({
      kind: "identity",
      blobServiceUri,
      tableServiceUri,
      credential: "managedidentity",
      clientId: "00000000-0000-0000-0000-000000000001",
    });
  });

  test("when credential and client id are blank, then they are left out", () => {
    const env = {
      VaultStorage: "   ",
      VaultStorage__blobServiceUri: blobServiceUri,
      VaultStorage__tableServiceUri: tableServiceUri,
      VaultStorage__credential: " ",
      VaultStorage__clientId: "",
      PG_BIN_DIR: binWithPgDump,
    };
    expect(loadConfig(env).vault).toEqual({ kind: "identity", blobServiceUri, tableServiceUri, credential: undefined, clientId: undefined });
  });

  test("when only the blob URI is set, then start-up fails naming the table URI setting", () => {
    expect(configErrorOf({ VaultStorage__blobServiceUri: blobServiceUri, PG_BIN_DIR: binWithPgDump })).toBe(
      "App setting VaultStorage__tableServiceUri is required when VaultStorage is not a connection string.",
    );
  });

  test("when only the table URI is set, then start-up fails naming the blob URI setting", () => {
    expect(configErrorOf({ VaultStorage__tableServiceUri: tableServiceUri, PG_BIN_DIR: binWithPgDump })).toBe(
      "App setting VaultStorage__blobServiceUri is required when VaultStorage is not a connection string.",
    );
  });

  test.each(["pgvaultprod.blob.core.windows.net", "ftp://pgvaultprod.blob.core.windows.net", "https://", "not a url"])(
    "when the blob URI is %j, then start-up fails naming the setting and the value",
    (value) => {
      expect(configErrorOf({ VaultStorage__blobServiceUri: value, VaultStorage__tableServiceUri: tableServiceUri, PG_BIN_DIR: binWithPgDump })).toBe(
        `App setting VaultStorage__blobServiceUri must be an http(s) URL, got '${value}'.`,
      );
    },
  );

  test("when the table URI is malformed, then start-up fails naming the table setting", () => {
    expect(
      configErrorOf({ VaultStorage__blobServiceUri: blobServiceUri, VaultStorage__tableServiceUri: "table", PG_BIN_DIR: binWithPgDump }),
    ).toBe("App setting VaultStorage__tableServiceUri must be an http(s) URL, got 'table'.");
  });

  test("when an http URI is set (Azurite), then it is accepted", () => {
    const env = {
      VaultStorage__blobServiceUri: "http://127.0.0.1:10000/devstoreaccount1",
      VaultStorage__tableServiceUri: "http://127.0.0.1:10002/devstoreaccount1",
      PG_BIN_DIR: binWithPgDump,
    };
    expect(loadConfig(env).vault).toMatchObject({ kind: "identity", blobServiceUri: "http://127.0.0.1:10000/devstoreaccount1" });
  });
});

describe("VaultStorage missing", () => {
  test.each([{}, { VaultStorage: "" }, { VaultStorage: "  " }, { VaultStorage__credential: "managedidentity" }])(
    "when the environment is %j, then start-up fails explaining both ways to set it",
    (env) => {
      expect(configErrorOf({ ...env, PG_BIN_DIR: binWithPgDump })).toBe(
        "App setting VaultStorage is missing: set a storage connection string, or VaultStorage__blobServiceUri and " +
          "VaultStorage__tableServiceUri for an identity-based connection.",
      );
    },
  );
});

describe("PG_BIN_DIR", () => {
  const vault = { VaultStorage: "UseDevelopmentStorage=true" };

  test("when it names a directory holding pg_dump, then it is used (trimmed)", () => {
    expect(loadConfig({ ...vault, PG_BIN_DIR: ` ${binWithPgDump} ` }).pgBinDir).toBe(binWithPgDump);
  });

  test("when it names a directory without pg_dump, then start-up fails naming the setting and the directory", () => {
    expect(configErrorOf({ ...vault, PG_BIN_DIR: binWithoutPgDump })).toBe(
      `App setting PG_BIN_DIR='${binWithoutPgDump}' does not contain pg_dump.`,
    );
  });

  test("when it names a directory that does not exist, then start-up fails naming the setting", () => {
    const missing = path.join(scratch, "nope");
    expect(configErrorOf({ ...vault, PG_BIN_DIR: missing })).toBe(`App setting PG_BIN_DIR='${missing}' does not contain pg_dump.`);
  });

  test("when it is unset, then the newest /usr/lib/postgresql/<major>/bin holding pg_dump is used (numeric order)", () => {
    fakePostgresRoot.entries = { "9": true, "10": true, "16": true, "17": false, common: true, "15.2": true };
    expect(loadConfig(vault).pgBinDir).toBe("/usr/lib/postgresql/16/bin");
  });

  test("when it is blank, then the default is used just as when it is unset", () => {
    fakePostgresRoot.entries = { "13": true, "15": true };
    expect(loadConfig({ ...vault, PG_BIN_DIR: "   " }).pgBinDir).toBe("/usr/lib/postgresql/15/bin");
  });

  test("when it is unset and no major version holds pg_dump, then it is empty (find the tools on PATH)", () => {
    fakePostgresRoot.entries = { "16": false, common: true };
    expect(loadConfig(vault).pgBinDir).toBe("");
  });

  test("when it is unset on this machine, then the result is the newest installed major version's bin, or empty", () => {
    const root = "/usr/lib/postgresql";
    const installed = realFs.existsSync(root)
      ? realFs.readdirSync(root).filter((entry) => /^\d+$/.test(entry) && realFs.existsSync(path.join(root, entry, "bin", "pg_dump")))
      : [];
    const newest = installed.map(Number).sort((a, b) => b - a)[0];
    expect(loadConfig(vault).pgBinDir).toBe(newest === undefined ? "" : `${root}/${newest}/bin`);
  });
});

describe("where credentials may go: MIN_SSL_MODE, ENTRA_SIGN_IN_HOSTS, KEY_VAULT_HOSTS, PG_SSL_ROOT_CERT", () => {
  const base = { VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump, PG_SSL_ROOT_CERT: caBundle };

  test.each([["disable"], ["Verify-Full"], [" verify-ca "]])("when MIN_SSL_MODE is %j, then that mode (lower case) is the minimum", (value) => {
    expect(loadConfig({ ...base, MIN_SSL_MODE: value }).minSslMode).toBe(value.trim().toLowerCase());
  });

  test("when MIN_SSL_MODE is not an sslmode, then start-up fails listing the modes", () => {
    expect(configErrorOf({ ...base, MIN_SSL_MODE: "strict" })).toBe(
      "App setting MIN_SSL_MODE='strict' must be one of disable, allow, prefer, require, verify-ca, verify-full (default 'require').",
    );
  });

  test("when ENTRA_SIGN_IN_HOSTS lists names and *.suffixes, then they are kept; a URL or a bare * is refused", () => {
    expect(loadConfig({ ...base, ENTRA_SIGN_IN_HOSTS: " pg.corp.example , *.private.example.net,," }).entraSignInHosts).toEqual(["pg.corp.example", "*.private.example.net"]);
    expect(configErrorOf({ ...base, ENTRA_SIGN_IN_HOSTS: "https://pg.corp.example" })).toMatch(/^App setting ENTRA_SIGN_IN_HOSTS lists 'https:\/\/pg.corp.example', which is not a host name or \*\.suffix/);
    expect(configErrorOf({ ...base, ENTRA_SIGN_IN_HOSTS: "*" })).toMatch(/ENTRA_SIGN_IN_HOSTS lists '\*'/);
  });

  test("when KEY_VAULT_HOSTS is unset, then any Key Vault host may be named; when set, exact names only", () => {
    expect(loadConfig(base).keyVaultHosts).toBeUndefined();
    expect(loadConfig({ ...base, KEY_VAULT_HOSTS: "pgv-kv-1.vault.azure.net, 127.0.0.1" }).keyVaultHosts).toEqual(["pgv-kv-1.vault.azure.net", "127.0.0.1"]);
    expect(configErrorOf({ ...base, KEY_VAULT_HOSTS: "*.vault.azure.net" })).toMatch(/^App setting KEY_VAULT_HOSTS lists '\*\.vault\.azure\.net', which is not a host name;/);
  });

  test("when PG_SSL_ROOT_CERT names no file, then start-up fails naming it", () => {
    const missing = path.join(scratch, "no-ca.pem");
    expect(configErrorOf({ ...base, PG_SSL_ROOT_CERT: missing })).toBe(`App setting PG_SSL_ROOT_CERT='${missing}' is not a file.`);
  });
});

describe("ARM_ENDPOINT and FLEX_BACKUP_TIMEOUT", () => {
  const base = { VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump };

  test.each([
    ["https://management.usgovcloudapi.net", "https://management.usgovcloudapi.net"],
    ["https://management.chinacloudapi.cn/", "https://management.chinacloudapi.cn"],
    ["  https://127.0.0.1:8443 ", "https://127.0.0.1:8443"],
  ])("when ARM_ENDPOINT is %j, then the origin %s is used", (value, origin) => {
    expect(loadConfig({ ...base, ARM_ENDPOINT: value }).armEndpoint).toBe(origin);
  });

  test.each(["http://management.azure.com", "https://management.azure.com/subscriptions", "https://management.azure.com?x=1", "management.azure.com"])(
    "when ARM_ENDPOINT is %j, then start-up fails naming the setting",
    (value) => {
      expect(configErrorOf({ ...base, ARM_ENDPOINT: value })).toMatch(/^App setting ARM_ENDPOINT=.* (must be an https origin|is not a URL)/);
    },
  );

  test.each([
    ["PT10M", 10 * 60_000],
    ["PT2H30M", 150 * 60_000],
    ["PT24H", 24 * 3600_000],
  ])("when FLEX_BACKUP_TIMEOUT is %s, then it is %i ms", (value, ms) => {
    expect(loadConfig({ ...base, FLEX_BACKUP_TIMEOUT: value }).flexBackupTimeoutMs).toBe(ms);
  });

  test.each(["PT9M", "PT24H1M", "P1D", "6h", "PT", "PTH"])("when FLEX_BACKUP_TIMEOUT is %j, then start-up fails naming the setting and the range", (value) => {
    expect(configErrorOf({ ...base, FLEX_BACKUP_TIMEOUT: value })).toContain("FLEX_BACKUP_TIMEOUT");
    expect(configErrorOf({ ...base, FLEX_BACKUP_TIMEOUT: value })).toContain("from PT10M to PT24H");
  });
});

describe("APPLICATIONINSIGHTS_CONNECTION_STRING", () => {
  const base = { VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump };
  const key = "0a1b2c3d-0000-4000-8000-00000000000a";
  const connectionString = `InstrumentationKey=${key};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/`;
  const aiOf = (value: string) => loadConfig({ ...base, APPLICATIONINSIGHTS_CONNECTION_STRING: value }).applicationInsightsConnectionString;

  test("when it is unset or blank, then the config has no connection string at all (telemetry stays off)", () => {
    expect(loadConfig(base)).not.toHaveProperty("applicationInsightsConnectionString");
    expect(loadConfig({ ...base, APPLICATIONINSIGHTS_CONNECTION_STRING: "  " })).not.toHaveProperty("applicationInsightsConnectionString");
  });

  test.each([connectionString, `InstrumentationKey=${key}`, `instrumentationkey=${key};ingestionendpoint=http://127.0.0.1:4318/`])(
    "when it is the connection string %j, then it is used as is",
    (value) => {
      expect(aiOf(` ${value} `)).toBe(value);
    },
  );

  test("when it has a trailing ';', spaces around parts or an upper-case key, then it is normalized for the exporter", () => {
    expect(aiOf(` InstrumentationKey = ${key.toUpperCase()} ; IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/; `)).toBe(
      `InstrumentationKey=${key};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/`,
    );
  });

  test.each([
    ["IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/", "is not an Application Insights connection string (no InstrumentationKey=)."],
    [key, "is not a connection string of Key=Value parts separated by ';'."],
    [`InstrumentationKey=${key};IngestionEndpoint`, "is not a connection string of Key=Value parts separated by ';'."],
    ["InstrumentationKey=;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/", "has an InstrumentationKey that is not a GUID."],
    ["InstrumentationKey=my-app-key", "has an InstrumentationKey that is not a GUID."],
    [`InstrumentationKey=${key};IngestionEndpoint=westeurope`, "has an IngestionEndpoint that is not an http(s) URL."],
  ])("when it is %j, then start-up fails naming the setting without echoing the value", (value, problem) => {
    const message = configErrorOf({ ...base, APPLICATIONINSIGHTS_CONNECTION_STRING: value });
    expect(message).toBe(`App setting APPLICATIONINSIGHTS_CONNECTION_STRING ${problem}`);
    expect(message).not.toContain(value);
  });
});

describe("VAULT_IMMUTABILITY and SOFT_DELETE_RETENTION_DAYS", () => {
  const base = { VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump };

  test("when neither is set, then recovery points are made immutable (unlocked) and soft-deleted points are kept 14 days", () => {
    expect(loadConfig(base)).toMatchObject({ vaultImmutability: "unlocked", softDeleteRetentionDays: 14 });
  });

  test.each([
    ["off", "off"],
    ["unlocked", "unlocked"],
    ["locked", "locked"],
    [" Locked ", "locked"],
    ["", "unlocked"],
  ])("when VAULT_IMMUTABILITY is %j, then the mode is %s", (value, mode) => {
    expect(loadConfig({ ...base, VAULT_IMMUTABILITY: value }).vaultImmutability).toBe(mode);
  });

  test.each(["on", "true", "unlock", "Mutable"])("when VAULT_IMMUTABILITY is %j, then start-up fails naming it and the allowed values", (value) => {
    expect(configErrorOf({ ...base, VAULT_IMMUTABILITY: value })).toBe(
      `App setting VAULT_IMMUTABILITY='${value}' must be one of off, unlocked, locked (default 'unlocked').`,
    );
  });

  test.each([["1", 1], ["30", 30], [" 180 ", 180]])("when SOFT_DELETE_RETENTION_DAYS is %j, then points are kept %i days", (value, days) => {
    expect(loadConfig({ ...base, SOFT_DELETE_RETENTION_DAYS: value }).softDeleteRetentionDays).toBe(days);
  });

  test.each(["0", "181", "-1", "14.5", "P14D", "two weeks", "1e2"])(
    "when SOFT_DELETE_RETENTION_DAYS is %j, then start-up fails naming it and the range (soft delete cannot be switched off)",
    (value) => {
      expect(configErrorOf({ ...base, SOFT_DELETE_RETENTION_DAYS: value })).toBe(
        `App setting SOFT_DELETE_RETENTION_DAYS='${value}' must be a whole number of days from 1 to 180 (default 14).`,
      );
    },
  );
});

describe("AUTH_MODE", () => {
  const base = { VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump };

  test("when it is unset or functionKeys, then the config carries no auth mode (function keys only; the principal header is ignored)", () => {
    expect(loadConfig(base)).not.toHaveProperty("authMode");
    expect(loadConfig({ ...base, AUTH_MODE: "functionKeys" })).not.toHaveProperty("authMode");
    expect(loadConfig({ ...base, AUTH_MODE: " " })).not.toHaveProperty("authMode");
  });

  test.each(["appServiceRoles", " appserviceroles ", "APPSERVICEROLES"])("when it is %j, then roles are checked", (value) => {
    expect(loadConfig({ ...base, AUTH_MODE: value }).authMode).toBe("appServiceRoles");
  });

  test.each(["easyAuth", "roles", "none", "off"])("when it is %j, then start-up fails naming the setting and the choices", (value) => {
    expect(configErrorOf({ ...base, AUTH_MODE: value })).toBe(`App setting AUTH_MODE='${value}' must be one of functionKeys, appServiceRoles.`);
  });

  test("when it is appServiceRoles on App Service without App Service authentication, then start-up fails: a caller could forge the principal", () => {
    const onAzure = { ...base, AUTH_MODE: "appServiceRoles", WEBSITE_SITE_NAME: "pgvault-prod" };
    expect(configErrorOf(onAzure)).toMatch(/^App setting AUTH_MODE=appServiceRoles needs App Service authentication to be enabled .*forge the x-ms-client-principal header\.$/);
    expect(configErrorOf({ ...onAzure, WEBSITE_AUTH_ENABLED: "False" })).toMatch(/WEBSITE_AUTH_ENABLED is not True/);
    expect(loadConfig({ ...onAzure, WEBSITE_AUTH_ENABLED: "True" }).authMode).toBe("appServiceRoles");
  });

  test("when it is functionKeys on App Service, then App Service authentication does not matter", () => {
    expect(loadConfig({ ...base, WEBSITE_SITE_NAME: "pgvault-prod" })).not.toHaveProperty("authMode");
  });
});

describe("MAX_CONCURRENT_DUMPS", () => {
  const base = { VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump };

  test.each([[undefined, 2], ["", 2], ["1", 1], [" 4 ", 4], ["64", 64]])("when it is %j, then one worker process runs at most %i dumps at a time", (value, dumps) => {
    expect(loadConfig({ ...base, ...(value === undefined ? {} : { MAX_CONCURRENT_DUMPS: value }) }).maxConcurrentDumps).toBe(dumps);
  });

  test.each(["0", "65", "-1", "2.5", "two", "1e1", "100"])("when it is %j, then start-up fails naming it and the range", (value) => {
    expect(configErrorOf({ ...base, MAX_CONCURRENT_DUMPS: value })).toBe(`App setting MAX_CONCURRENT_DUMPS='${value}' must be a whole number from 1 to 64 (default 2).`);
  });
});

describe("EVENT_GRID_TOPIC_ENDPOINT", () => {
  const base = { VaultStorage: accountKeyConnection, PG_BIN_DIR: binWithPgDump };

  test("when it is not set, then no events are published (no endpoint in the configuration)", () => {
    expect(loadConfig(base)).not.toHaveProperty("eventGridTopicEndpoint");
    expect(loadConfig({ ...base, EVENT_GRID_TOPIC_ENDPOINT: "  " })).not.toHaveProperty("eventGridTopicEndpoint");
  });

  test("when it is a topic's https publish URL, then that URL is used as given", () => {
    const endpoint = "https://pgvault-events.westeurope-1.eventgrid.azure.net/api/events";
    expect(loadConfig({ ...base, EVENT_GRID_TOPIC_ENDPOINT: ` ${endpoint} ` }).eventGridTopicEndpoint).toBe(endpoint);
  });

  test.each([
    "http://pgvault-events.westeurope-1.eventgrid.azure.net/api/events",
    "https://pgvault-events.westeurope-1.eventgrid.azure.net/api/events?aeg-sas-key=c2VjcmV0LWtleQ==",
    "https://user:c2VjcmV0@pgvault-events.westeurope-1.eventgrid.azure.net/api/events",
    "pgvault-events.westeurope-1.eventgrid.azure.net",
  ])("when it is %j, then start-up fails naming the setting, without repeating the value", (value) => {
    const message = configErrorOf({ ...base, EVENT_GRID_TOPIC_ENDPOINT: value });
    expect(message).toMatch(/^App setting EVENT_GRID_TOPIC_ENDPOINT must be an Event Grid topic's https publish URL/);
    expect(message).not.toContain("c2Vj");
    expect(message).not.toContain("pgvault-events");
  });
});
