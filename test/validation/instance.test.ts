/**
 * What a PUT /backupInstances/{name} body and a POST .../backup body may hold (SPEC section 2). Access is checked
 * elsewhere; these stories are only about shape.
 */
import { describe, expect, test } from "vitest";
import type { RequestedDatabaseEndpoint } from "../../shared/domain";
import { ValidationError, type ValidationIssue } from "../../shared/errors";
import { parseBackupRequest, parseInstanceRequest, type InstanceRequest } from "../../shared/validation/instance";
import { parseRestoreRequest } from "../../shared/validation/restore";

// Read once, at the first reference checked: this file's app lists one vault (the spec example's).
process.env.KEY_VAULT_HOSTS = "myvault.vault.azure.net";

function datasourceWith(fields: Record<string, unknown>): Record<string, unknown> {
  return {
    type: "database",
    host: "pg.example.com",
    port: 5432,
    database: "sales",
    secretRef: "https://myvault.vault.azure.net/secrets/sales-backup",
    ...fields,
  };
}

function bodyWith(fields: Record<string, unknown>): Record<string, unknown> {
  return { policyName: "daily-10y", datasource: datasourceWith(fields) };
}

/** The database datasource of a body that must parse. */
function databaseOf(body: Record<string, unknown>): { type: "database" } & RequestedDatabaseEndpoint {
  const { datasource } = parseInstanceRequest(body);
  if (datasource.type !== "database") throw new Error(`expected a database datasource, got ${datasource.type}`);
  return datasource;
}

function issuesOf(parse: () => unknown): ValidationIssue[] {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error("expected the body to be refused, but it was accepted");
}

const hostIssue = { path: "datasource.host", message: "must be a host name or IP address" };
const portIssue = { path: "datasource.port", message: "must be an integer from 1 to 65535" };
const databaseBytesIssue = { path: "datasource.database", message: "must be at most 63 bytes" };

describe("a valid database instance", () => {
  test("when the body is the spec's example, then it is accepted as is", () => {
    const expected: InstanceRequest = {
      policyName: "daily-10y",
      datasource: {
        type: "database",
        host: "pg.example.com",
        port: 5432,
        database: "sales",
        secretRef: "https://myvault.vault.azure.net/secrets/sales-backup",
      },
    };
    expect(parseInstanceRequest(bodyWith({}))).toEqual(expected);
  });

  test("when the port is left out, then none is kept: the secret's applies (checked when it is read)", () => {
    const body = { policyName: "daily-10y", datasource: { type: "database", host: "10.0.0.4", database: "sales", secretRef: "env:PGVAULT_SECRET_PG" } };
    expect(parseInstanceRequest(body).datasource).toEqual({ type: "database", host: "10.0.0.4", database: "sales", secretRef: "env:PGVAULT_SECRET_PG" });
  });

  test("when host and port are both left out, then the body is accepted: the secret names its server", () => {
    const body = { policyName: "daily-10y", datasource: { type: "database", database: "sales", secretRef: "env:PGVAULT_SECRET_PG" } };
    expect(parseInstanceRequest(body).datasource).toEqual({ type: "database", database: "sales", secretRef: "env:PGVAULT_SECRET_PG" });
  });

  test.each([1, 6432, 65535])("when the port is %i, then it is kept", (port) => {
    expect(databaseOf(bodyWith({ port })).port).toBe(port);
  });

  test.each([
    "localhost",
    "pg",
    "pg.example.com",
    "PG-01.Example.COM",
    "my-server.postgres.database.azure.com",
    "10.0.0.4",
    "255.255.255.255",
    "::1",
    "2001:db8::1",
    "::ffff:192.0.2.1",
    "db1.internal",
    `${"a".repeat(63)}.example.com`,
  ])("when the host is %s, then it is accepted", (host) => {
    expect(databaseOf(bodyWith({ host })).host).toBe(host);
  });

  test("when the database name is exactly 63 bytes of ASCII, then it is accepted", () => {
    const database = "d".repeat(63);
    expect(databaseOf(bodyWith({ database })).database).toBe(database);
  });

  test("when the database name is 31 two-byte characters (62 bytes), then it is accepted", () => {
    const database = "é".repeat(31);
    expect(databaseOf(bodyWith({ database })).database).toBe(database);
  });
});

describe("a bad host", () => {
  test.each([
    ["a space", "pg example.com"],
    ["an underscore", "pg_01.example.com"],
    ["a leading hyphen", "-pg.example.com"],
    ["a label ending in a hyphen", "pg-.example.com"],
    ["a URL", "https://pg.example.com"],
    ["a port suffix", "pg.example.com:5432"],
    ["an empty label", "pg..example.com"],
    ["only hex letters and dots", "cafe..db"],
    ["only a dot", "."],
    ["only colons", ":::"],
    ["a bracketed IPv6 literal", "[::1]"],
    ["an out-of-range IPv4 look-alike", "999.1.1.1"],
    ["a short numeric form", "10.1"],
    ["a number", "12345"],
    ["a label over 63 characters", `${"a".repeat(64)}.example.com`],
  ])("when the host has %s (%j), then it is refused", (_case, host) => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ host })))).toEqual([hostIssue]);
  });

  test("when the host is longer than 253 characters, then it is refused for its length", () => {
    const host = Array.from({ length: 5 }, () => "a".repeat(60)).join(".");
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ host })))).toEqual([
      { path: "datasource.host", message: "must be at most 253 characters" },
    ]);
  });

  test.each([[""], ["   "], [42], [null]])("when the host is %j, then it is refused as empty", (host) => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ host })))).toEqual([
      { path: "datasource.host", message: "must be a non-empty string when given" },
    ]);
  });

  test("when the host ends with a dot (a fully qualified name), then it is accepted as written", () => {
    expect(databaseOf(bodyWith({ host: "pg.example.com." })).host).toBe("pg.example.com.");
  });
});

describe("the port", () => {
  test.each([[0], [65536], [-1], [5432.5], ["5432"], [null], [Number.NaN]])("when the port is %j, then it is refused", (port) => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ port })))).toEqual([portIssue]);
  });
});

describe("the database name", () => {
  test("when it is 64 bytes of ASCII, then it is refused (PostgreSQL would truncate it)", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ database: "d".repeat(64) })))).toEqual([databaseBytesIssue]);
  });

  test("when it is 32 two-byte characters (64 bytes, 32 characters), then it is refused", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ database: "é".repeat(32) })))).toEqual([databaseBytesIssue]);
  });

  test("when it is 21 three-byte characters (63 bytes), then it is accepted", () => {
    const database = "日".repeat(21);
    expect(databaseOf(bodyWith({ database })).database).toBe(database);
  });

  test("when it is 22 three-byte characters (66 bytes), then it is refused", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ database: "日".repeat(22) })))).toEqual([databaseBytesIssue]);
  });

  test("when it is 32 emoji (128 bytes, 64 UTF-16 units), then the refusal names the byte limit", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ database: "🐘".repeat(32) })))).toEqual([databaseBytesIssue]);
  });

  test("when it is missing, then it is refused", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ database: undefined })))).toEqual([
      { path: "datasource.database", message: "is required and must be a non-empty string" },
    ]);
  });
});

describe("a flexibleServer instance", () => {
  const resourceId = "/subscriptions/8d3f1a52-0c6e-4b8e-9a43-2f5d7c1e9b60/resourceGroups/rg-data.prod(1)/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-sales-01";
  const flexBody = (fields: Record<string, unknown> = {}) => ({ policyName: "flex-weekly", datasource: { type: "flexibleServer", resourceId, ...fields } });

  test("when the spec's flexibleServer example is sent with real ids, then it is accepted as it is", () => {
    expect(parseInstanceRequest(flexBody())).toEqual({ policyName: "flex-weekly", datasource: { type: "flexibleServer", resourceId } });
  });

  test("when the provider segments differ only in case, then it is accepted (ARM ids are case-insensitive)", () => {
    const lower = resourceId.replace("Microsoft.DBforPostgreSQL/flexibleServers", "microsoft.dbforpostgresql/FLEXIBLESERVERS");
    expect(parseInstanceRequest(flexBody({ resourceId: lower })).datasource).toEqual({ type: "flexibleServer", resourceId: lower });
  });

  test.each([
    ["the spec's placeholder subscription", resourceId.replace(/subscriptions\/[^/]+/, "subscriptions/<id>"), "the subscription id must be a UUID"],
    ["a resource group ending in a period", resourceId.replace("rg-data.prod(1)", "rg."), "the resource group name must be 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'"],
    ["an upper-case server name", resourceId.replace("pg-sales-01", "PG-Sales"), "the server name must be 3-63 lowercase letters, digits or inner hyphens"],
    ["a two-letter server name", resourceId.replace("pg-sales-01", "pg"), "the server name must be 3-63 lowercase letters, digits or inner hyphens"],
  ])("when it has %s, then the resource id is refused with the reason", (_what, bad, message) => {
    expect(issuesOf(() => parseInstanceRequest(flexBody({ resourceId: bad })))).toEqual([{ path: "datasource.resourceId", message }]);
  });

  test.each([
    ["a single server id", resourceId.replace("flexibleServers", "servers")],
    ["a trailing segment", `${resourceId}/databases/sales`],
    ["no leading slash", resourceId.slice(1)],
  ])("when it is %s, then the refusal shows the expected shape", (_what, bad) => {
    expect(issuesOf(() => parseInstanceRequest(flexBody({ resourceId: bad })))).toEqual([
      { path: "datasource.resourceId", message: "must be /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.DBforPostgreSQL/flexibleServers/<server>" },
    ]);
  });

  test("when it also has a bad policy name, database fields and no resource id, then each is reported", () => {
    const body = { policyName: "Flex", datasource: { type: "flexibleServer", host: "pg.example.com" } };
    expect(issuesOf(() => parseInstanceRequest(body))).toEqual([
      { path: "policyName", message: "must be 3-63 lowercase letters, digits or hyphens, starting with a letter or digit" },
      { path: "datasource.host", message: "is not a known property" },
      { path: "datasource.resourceId", message: "is required and must be a non-empty string" },
    ]);
  });
});

describe("the drill server of a flexibleServer instance (verification)", () => {
  const resourceId = "/subscriptions/8d3f1a52-0c6e-4b8e-9a43-2f5d7c1e9b60/resourceGroups/rg-data/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg-sales-01";
  const flexWith = (verification: unknown) => ({ policyName: "flex-weekly", datasource: { type: "flexibleServer", resourceId }, verification });
  const secretRef = "https://myvault.vault.azure.net/secrets/drill-server";

  test("when it names a secret, with or without host and port, or an Entra sign-in with a host, then it is kept as given", () => {
    expect(parseInstanceRequest(flexWith({ secretRef })).verification).toEqual({ secretRef });
    expect(parseInstanceRequest(flexWith({ host: "drill.example.com", port: 6432, secretRef })).verification).toEqual({ host: "drill.example.com", port: 6432, secretRef });
    const entra = { host: "drill.postgres.database.azure.com", auth: { type: "entra", user: "pgvault-drill" } };
    expect(parseInstanceRequest(flexWith(entra)).verification).toEqual(entra);
    expect(parseInstanceRequest({ policyName: "flex-weekly", datasource: { type: "flexibleServer", resourceId } })).not.toHaveProperty("verification");
  });

  test("when it names a database, a bad port, no sign-in or an Entra sign-in without a host, then each is refused on its path", () => {
    expect(issuesOf(() => parseInstanceRequest(flexWith({ secretRef, database: "postgres" })))).toEqual([{ path: "verification.database", message: "is not a known property" }]);
    expect(issuesOf(() => parseInstanceRequest(flexWith({ secretRef, port: 0 })))).toEqual([{ path: "verification.port", message: "must be an integer from 1 to 65535" }]);
    expect(issuesOf(() => parseInstanceRequest(flexWith({ host: "drill.example.com" })))).toEqual([{ path: "verification.secretRef", message: "is required and must be a non-empty string" }]);
    expect(issuesOf(() => parseInstanceRequest(flexWith({ auth: { type: "entra", user: "pgvault" } })))).toEqual([
      { path: "verification.host", message: "is required with auth: a Microsoft Entra sign-in has no secret that names the server" },
    ]);
    expect(issuesOf(() => parseInstanceRequest(flexWith("drill.example.com")))).toEqual([
      { path: "verification", message: "must be a JSON object" },
      { path: "verification.secretRef", message: "is required and must be a non-empty string" },
    ]);
  });

  test("when a database instance names one, then it is refused: its drills run on its own server", () => {
    expect(issuesOf(() => parseInstanceRequest({ ...bodyWith({}), verification: { secretRef } }))).toEqual([
      { path: "verification", message: "applies to 'flexibleServer' instances only: a 'database' instance's restore drills run on its own server with its own credentials" },
    ]);
  });
});

describe("the rest of the body", () => {
  test("when the body and the datasource hold unknown properties, then each is refused by path", () => {
    const body = { ...bodyWith({ sslmode: "require", password: "hunter2" }), description: "sales" };
    expect(issuesOf(() => parseInstanceRequest(body))).toEqual([
      { path: "description", message: "is not a known property" },
      { path: "datasource.sslmode", message: "is not a known property" },
      { path: "datasource.password", message: "is not a known property" },
    ]);
  });

  test.each([["ab"], ["Daily-10y"], ["-daily"], ["daily_10y"], ["a".repeat(64)], [undefined]])(
    "when the policy name is %j, then it is refused",
    (policyName) => {
      expect(issuesOf(() => parseInstanceRequest({ ...bodyWith({}), policyName }))).toEqual([
        { path: "policyName", message: "must be 3-63 lowercase letters, digits or hyphens, starting with a letter or digit" },
      ]);
    },
  );

  test.each([["Database"], ["blob"], [undefined]])("when the datasource type is %j, then it is refused", (type) => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ type })))).toEqual([
      { path: "datasource.type", message: "must be one of 'database', 'flexibleServer'" },
    ]);
  });

  test("when the secret reference is missing or over 2048 characters, then it is refused", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ secretRef: undefined })))).toEqual([
      { path: "datasource.secretRef", message: "is required and must be a non-empty string" },
    ]);
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ secretRef: `env:${"A".repeat(2045)}` })))).toEqual([
      { path: "datasource.secretRef", message: "must be at most 2048 characters" },
    ]);
  });

  test("when several fields are wrong, then every issue is reported at once", () => {
    const body = { policyName: "X", datasource: { type: "database", host: "bad host", port: 70000, database: "é".repeat(40) } };
    expect(issuesOf(() => parseInstanceRequest(body))).toEqual([
      { path: "policyName", message: "must be 3-63 lowercase letters, digits or hyphens, starting with a letter or digit" },
      // The database is checked before the server's fields (checkDatabaseAddress): the order is not a contract.
      databaseBytesIssue,
      hostIssue,
      portIssue,
      { path: "datasource.secretRef", message: "is required and must be a non-empty string" },
    ]);
  });

  test.each([[null], [[]], ["x"]])("when the body is %j, then it is refused at $ with every required field", (body) => {
    expect(issuesOf(() => parseInstanceRequest(body))).toEqual([
      { path: "$", message: "must be a JSON object" },
      { path: "policyName", message: "must be 3-63 lowercase letters, digits or hyphens, starting with a letter or digit" },
      { path: "datasource", message: "must be a JSON object" },
      { path: "datasource.type", message: "must be one of 'database', 'flexibleServer'" },
      { path: "datasource.database", message: "is required and must be a non-empty string" },
      { path: "datasource.secretRef", message: "is required and must be a non-empty string" },
    ]);
  });
});

describe("an on-demand backup body", () => {
  test("when there is no body, then no tag is asked for", () => {
    expect(parseBackupRequest(undefined)).toEqual({});
  });

  test("when the body is an empty object, then no tag is asked for", () => {
    expect(parseBackupRequest({})).toEqual({});
  });

  test.each(["Default", "Weekly", "Monthly", "Yearly"] as const)("when the retention tag is %s, then it is kept", (retentionTag) => {
    expect(parseBackupRequest({ retentionTag })).toEqual({ retentionTag });
  });

  test.each([["weekly"], ["Daily"], [""], [null], [1]])("when the retention tag is %j, then it is refused with the allowed values", (retentionTag) => {
    expect(issuesOf(() => parseBackupRequest({ retentionTag }))).toEqual([
      { path: "retentionTag", message: "must be one of 'Default', 'Weekly', 'Monthly', 'Yearly'" },
    ]);
  });

  test("when the body holds an unknown property, then it is refused", () => {
    expect(issuesOf(() => parseBackupRequest({ retentionTag: "Weekly", tag: "Weekly" }))).toEqual([
      { path: "tag", message: "is not a known property" },
    ]);
  });

  test.each([[[]], ["Weekly"]])("when the body is %j (not an object), then it is refused at $", (body) => {
    expect(issuesOf(() => parseBackupRequest(body))).toEqual([{ path: "$", message: "must be a JSON object" }]);
  });
});

describe("passwordless sign-in (auth: entra)", () => {
  const entra = { secretRef: undefined, auth: { type: "entra", user: "pgvault-prod-id" } };

  test("when a datasource signs in with the app's Entra identity instead of a secret, then it is kept without a secretRef", () => {
    expect(databaseOf(bodyWith(entra))).toEqual({ type: "database", host: "pg.example.com", port: 5432, database: "sales", auth: { type: "entra", user: "pgvault-prod-id" } });
  });

  test.each([
    ["both a secret and auth", { auth: { type: "entra", user: "app" } }, [{ path: "datasource.auth", message: "cannot be given together with secretRef: sign in with a secret or with the app's Microsoft Entra identity" }]],
    ["an unknown auth type", { secretRef: undefined, auth: { type: "password", user: "app" } }, [{ path: "datasource.auth.type", message: "must be one of 'entra'" }]],
    ["no user", { secretRef: undefined, auth: { type: "entra" } }, [{ path: "datasource.auth.user", message: "is required and must be a non-empty string" }]],
    ["a role name over 63 bytes", { secretRef: undefined, auth: { type: "entra", user: "é".repeat(32) } }, [{ path: "datasource.auth.user", message: "must be a PostgreSQL role name: at most 63 bytes, no control characters" }]],
    ["a control character in the role", { secretRef: undefined, auth: { type: "entra", user: "app\nDROP" } }, [{ path: "datasource.auth.user", message: "must be a PostgreSQL role name: at most 63 bytes, no control characters" }]],
    ["an unknown auth field", { secretRef: undefined, auth: { type: "entra", user: "app", token: "x" } }, [{ path: "datasource.auth.token", message: "is not a known property" }]],
    ["neither", { secretRef: undefined }, [{ path: "datasource.secretRef", message: "is required and must be a non-empty string" }]],
    ["no host (no secret names the server)", { secretRef: undefined, host: undefined, auth: { type: "entra", user: "app" } }, [{ path: "datasource.host", message: "is required with auth: a Microsoft Entra sign-in has no secret that names the server" }]],
  ])("when a datasource has %s, then it is refused by path", (_what, fields, expected) => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith(fields)))).toEqual(expected);
  });
});

test("when a restore target signs in with the app's Entra identity, then it is kept; a blob target refuses auth", () => {
  const target = { type: "database", host: "pg.example.com", port: 5432, database: "sales_restored", auth: { type: "entra", user: "pgvault-prod-id" } };
  expect(parseRestoreRequest({ recoveryPointId: "rp-20260104T023000Z-0123abcd", target }).target).toEqual({ ...target, overwrite: false, preserveOwnership: false, privileges: "all", roles: "skip" });
  const blob = { type: "blob", containerUrl: "https://acct.blob.core.windows.net/exports", auth: { type: "entra", user: "x" } };
  expect(issuesOf(() => parseRestoreRequest({ recoveryPointId: "rp-20260104T023000Z-0123abcd", target: blob }))).toEqual([
    { path: "target.auth", message: "is not a property of a blob target" },
  ]);
});

describe("what a secretRef may name (issue 20)", () => {
  const refusal = (message: string) => [{ path: "datasource.secretRef", message: `${message} (UserErrorInvalidSecret)` }];

  test("when env: names an app setting without the PGVAULT_SECRET_ prefix, then 400 on the field names the rule", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ secretRef: "env:AzureWebJobsStorage" })))).toEqual(
      refusal("secretRef 'env:AzureWebJobsStorage' names an app setting without the prefix PGVAULT_SECRET_; env: references may name only settings made for them (PGVAULT_SECRET_<NAME>)"),
    );
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ secretRef: "env:PGVAULT_SECRET_" })))).toHaveLength(1);
  });

  test("when the vault is not one KEY_VAULT_HOSTS lists, then 400 on the field names the vault; a listed one (any case) is accepted", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ secretRef: "https://othervault.vault.azure.net/secrets/sales-backup" })))).toEqual(
      refusal("secretRef names the vault othervault.vault.azure.net, which the app setting KEY_VAULT_HOSTS does not list"),
    );
    expect(databaseOf(bodyWith({ secretRef: "https://MyVault.vault.azure.net/secrets/sales-backup/0123abcd" })).secretRef).toBe("https://MyVault.vault.azure.net/secrets/sales-backup/0123abcd");
  });

  test("when the reference is malformed, then 400 on the field (no access check runs)", () => {
    expect(issuesOf(() => parseInstanceRequest(bodyWith({ secretRef: "https://evil.example.com/secrets/x" })))).toEqual(
      refusal("secretRef host 'evil.example.com' is not a Key Vault host"),
    );
  });

  test("when a restore target names a setting outside the prefix, then 400 on target.secretRef", () => {
    const target = { type: "database", database: "sales_restored", secretRef: "env:PATH" };
    expect(issuesOf(() => parseRestoreRequest({ recoveryPointId: "rp-20260104T023000Z-0123abcd", target })).map((issue) => issue.path)).toEqual(["target.secretRef"]);
  });
});

describe("a server target (a Flexible Server point restored to any PostgreSQL server)", () => {
  const rpId = "rp-20260104T023000Z-0123abcd";
  const server = { type: "server", host: "pg2.example.com", port: 5432, secretRef: "https://myvault.vault.azure.net/secrets/pg2-admin" };

  test("when only the server is named, then every database is restored under its own name, roles skipped, nothing overwritten", () => {
    expect(parseRestoreRequest({ recoveryPointId: rpId, target: server }).target).toEqual({ ...server, overwrite: false, roles: "skip" });
  });

  test("when databases are listed, then each keeps its name unless restoreAs gives another, and roles may be created", () => {
    const target = { ...server, databases: [{ name: "sales" }, { name: "crm", restoreAs: "crm_restored" }], roles: "createMissing", overwrite: true };
    expect(parseRestoreRequest({ recoveryPointId: rpId, target }).target).toEqual({
      ...server,
      databases: [{ name: "sales", restoreAs: "sales" }, { name: "crm", restoreAs: "crm_restored" }],
      roles: "createMissing",
      overwrite: true,
    });
  });

  test("when the list is empty, repeats a name or a target name, or names are too long, then 400 names each problem", () => {
    const parse = (fields: Record<string, unknown>) => issuesOf(() => parseRestoreRequest({ recoveryPointId: rpId, target: { ...server, ...fields } }));
    expect(parse({ databases: [] }).map((issue) => issue.path)).toEqual(["target.databases"]);
    expect(parse({ databases: [{ name: "a" }, { name: "a", restoreAs: "b" }] })).toEqual([{ path: "target.databases", message: "names 'a' more than once" }]);
    expect(parse({ databases: [{ name: "a", restoreAs: "x" }, { name: "b", restoreAs: "x" }] })).toEqual([{ path: "target.databases", message: "restores two databases as 'x'" }]);
    expect(parse({ databases: [{ name: "a", restoreAs: "x".repeat(64) }] })).toEqual([{ path: "target.databases[0].restoreAs", message: "must be at most 63 bytes" }]);
    expect(parse({ databases: [{ name: "a", extra: 1 }] }).map((issue) => issue.path)).toEqual(["target.databases[0].extra"]);
    expect(parse({ roles: "all" }).map((issue) => issue.path)).toEqual(["target.roles"]);
  });

  test("when database-target or blob-target fields are given, then 400 says where databases are listed", () => {
    const issues = issuesOf(() => parseRestoreRequest({ recoveryPointId: rpId, target: { ...server, database: "sales", preserveOwnership: true, prefix: "x/" } }));
    expect(issues).toEqual(expect.arrayContaining([
      { path: "target.database", message: "is not a property of a server target: list databases under target.databases" },
      { path: "target.preserveOwnership", message: "is not a property of a server target" },
      { path: "target.prefix", message: "is not a property of a server target" },
    ]));
    const onDatabase = issuesOf(() => parseRestoreRequest({ recoveryPointId: rpId, target: { ...server, type: "database", database: "s", databases: [{ name: "s" }] } }));
    expect(onDatabase).toEqual([{ path: "target.databases", message: "is not a property of a database target" }]);
    expect(issuesOf(() => parseRestoreRequest({ recoveryPointId: rpId, target: { ...server, privileges: "none" } }))).toEqual([
      { path: "target.privileges", message: "is not a property of a server target" },
    ]);
  });
});

describe("privileges and roles of a database target (issue 23)", () => {
  const rpId = "rp-20260104T023000Z-0123abcd";
  const database = { type: "database", host: "pg2.example.com", port: 5432, database: "sales", secretRef: "https://myvault.vault.azure.net/secrets/pg2-admin" };
  const parse = (fields: Record<string, unknown>) => parseRestoreRequest({ recoveryPointId: rpId, target: { ...database, ...fields } }).target;
  const issues = (fields: Record<string, unknown>) => issuesOf(() => parse(fields));

  test("when neither is given, then grants whose grantees exist are kept and no role is created", () => {
    expect(parse({})).toEqual({ ...database, overwrite: false, preserveOwnership: false, privileges: "all", roles: "skip" });
  });

  test("when privileges none or roles createMissing are asked for, then they are kept as asked", () => {
    expect(parse({ privileges: "none" })).toMatchObject({ privileges: "none", roles: "skip" });
    expect(parse({ roles: "createMissing" })).toMatchObject({ privileges: "all", roles: "createMissing" });
    expect(parse({ roles: "createMissing", privileges: "none" })).toMatchObject({ privileges: "none", roles: "createMissing" });
  });

  test("when preserveOwnership is combined with privileges none or roles createMissing, or a value is unknown, then 400 names the field", () => {
    expect(issues({ preserveOwnership: true, privileges: "none" }).map((issue) => issue.path)).toEqual(["target.privileges"]);
    expect(issues({ preserveOwnership: true, roles: "createMissing" }).map((issue) => issue.path)).toEqual(["target.roles"]);
    expect(parse({ preserveOwnership: true, privileges: "all", roles: "skip" })).toMatchObject({ preserveOwnership: true });
    expect(issues({ privileges: "some" }).map((issue) => issue.path)).toEqual(["target.privileges"]);
    expect(issues({ roles: "all" }).map((issue) => issue.path)).toEqual(["target.roles"]);
  });

  test("when a blob target names privileges, then it is refused", () => {
    const blob = { type: "blob", containerUrl: "https://acct.blob.core.windows.net/exports", privileges: "none" };
    expect(issuesOf(() => parseRestoreRequest({ recoveryPointId: rpId, target: blob }))).toEqual([{ path: "target.privileges", message: "is not a property of a blob target" }]);
  });
});

describe("a subset restore (include) and a restore into a live database (intoSchema)", () => {
  const rpId = "rp-20260104T023000Z-0123abcd";
  const database = { type: "database", host: "pg.example.com", port: 5432, database: "sales", secretRef: "https://myvault.vault.azure.net/secrets/sales-admin" };
  const parse = (fields: Record<string, unknown>) => parseRestoreRequest({ recoveryPointId: rpId, target: { ...database, ...fields } }).target;
  const issues = (fields: Record<string, unknown>) => issuesOf(() => parse(fields));

  test("when include names schemas and schema-qualified tables, quoted or not, then they are kept as written and intoSchema is stored as the server will name it", () => {
    const include = { schemas: ["archive", '"Old Stuff"'], tables: ["sales.orders", '"Sales"."Order ""Lines"""', "Sales.Orders"] };
    expect(parse({ include, intoSchema: '"Recovered"' })).toEqual({ ...database, overwrite: false, preserveOwnership: false, privileges: "all", roles: "skip", include, intoSchema: "Recovered" });
    expect(parse({ include: { tables: ["sales.orders"] }, intoSchema: "Recovered" })).toMatchObject({ intoSchema: "recovered" });
  });

  test("when a name is not schema.table, include is empty, or intoSchema comes without include, with overwrite, with preserveOwnership or as a system schema, then 400 names each", () => {
    expect(issues({ include: { tables: ["orders", "a.b.c", '"unclosed.x', "a." + "x".repeat(64)] } }).map((issue) => issue.path)).toEqual([
      "target.include.tables[0]", "target.include.tables[1]", "target.include.tables[2]", "target.include.tables[3]",
    ]);
    expect(issues({ include: { schemas: [] } }).map((issue) => issue.path)).toEqual(["target.include.schemas"]);
    expect(issues({ include: {} })).toEqual([{ path: "target.include", message: "must name schemas or tables (leave include out to restore everything)" }]);
    expect(issues({ intoSchema: "recovered", overwrite: true, preserveOwnership: true }).map((issue) => issue.path)).toEqual(["target.intoSchema", "target.overwrite", "target.preserveOwnership"]);
    expect(issues({ include: { tables: ["a.b"] }, intoSchema: "pg_recovered" }).map((issue) => issue.path)).toEqual(["target.intoSchema"]);
    expect(issues({ include: { tables: ["a.b"] }, intoSchema: "two.parts" }).map((issue) => issue.path)).toEqual(["target.intoSchema"]);
  });

  test("when a server target's database entry has an include, then it is kept; include or intoSchema on the server target itself is refused", () => {
    const server = { type: "server", host: "pg2.example.com", port: 5432, secretRef: "https://myvault.vault.azure.net/secrets/pg2-admin" };
    const target = { ...server, databases: [{ name: "sales", include: { tables: ["public.orders"] } }] };
    expect(parseRestoreRequest({ recoveryPointId: rpId, target }).target).toEqual({ ...server, databases: [{ name: "sales", restoreAs: "sales", include: { tables: ["public.orders"] } }], overwrite: false, roles: "skip" });
    const refused = issuesOf(() => parseRestoreRequest({ recoveryPointId: rpId, target: { ...server, include: { tables: ["a.b"] }, intoSchema: "x" } }));
    expect(refused.map((issue) => issue.path)).toEqual(["target.include", "target.intoSchema"]);
  });
});
