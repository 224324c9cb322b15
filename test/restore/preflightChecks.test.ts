/** The pre-flight's checks over facts (no I/O): what they find for each kind of target, and the listing parser. */
import { expect, test } from "vitest";
import { majorNumber, parseArchiveList, type ArchiveFacts } from "../../shared/restore/preflight/archiveFacts";
import { runChecks, type PreflightFacts } from "../../shared/restore/preflight/checks";
import { fatalError } from "../../shared/restore/preflight/findings";
import type { TargetFacts } from "../../shared/restore/preflight/targetFacts";

// The shape `pg_restore --list` prints for a PostgreSQL 15 custom archive (header, then one line per entry).
const listing = `;
; Archive created at 2026-12-07 04:30:00 UTC
;     dbname: sales
;     Dumped from database version: 16.4 (Debian 16.4-1.pgdg120+1)
;     Dumped by pg_dump version: 16.4 (Debian 16.4-1.pgdg120+1)
;
; Selected TOC Entries:
;
2; 3079 16385 EXTENSION - hstore 
3456; 0 0 COMMENT - EXTENSION hstore 
3; 3079 16390 EXTENSION - pg_trgm 
5; 2615 2200 SCHEMA - public pg_database_owner
215; 1259 16400 TABLE public orders app_owner
216; 1259 16401 TABLE DATA public orders app_owner
`;

const archive: ArchiveFacts = parseArchiveList(listing, "sales_restored", "15.1");

const target = (over: Partial<TargetFacts> = {}): TargetFacts => ({
  server: { host: "pg2.example.com", port: 5432 }, user: "restorer", superuser: false, createdb: true, createrole: false,
  serverVersion: "16.2", serverVersionNum: 160002, existing: [], azurePgAdmin: false,
  available: [{ name: "hstore", needsSuperuser: false }, { name: "pg_trgm", needsSuperuser: false }, { name: "plpgsql", needsSuperuser: false }],
  roles: [], ...over,
});

const facts = (over: Partial<TargetFacts> = {}, request: Partial<PreflightFacts["request"]> = {}): PreflightFacts => ({
  request: {
    target: { type: "database", database: "sales_restored", secretRef: "env:PGVAULT_SECRET_X", overwrite: false, preserveOwnership: false },
    databases: ["sales_restored"], overwrite: false, preserveOwnership: false, createRoles: false, ...request,
  },
  target: target(over),
  archives: [archive],
});

const checksOf = (f: PreflightFacts) => runChecks(f).map((finding) => `${finding.severity} ${finding.check} ${finding.object}`);

test("when the listing is parsed, then the dumped version, the extensions and the owners come out of it", () => {
  expect(archive).toMatchObject({ serverVersion: "16.4", extensions: ["hstore", "pg_trgm"], owners: ["app_owner", "pg_database_owner"] });
  expect(parseArchiveList("", "x", "15.1").serverVersion).toBe("15.1");
  expect([majorNumber("15.18"), majorNumber(150018), majorNumber("9.6.24"), majorNumber(90624)]).toEqual([150000, 150000, 90600, 90600]);
});

test("when the target server is of the archive's major version or newer, then nothing is found; when older, a fatal version finding", () => {
  expect(checksOf(facts())).toEqual([]);
  expect(checksOf(facts({ serverVersion: "17.0", serverVersionNum: 170000 }))).toEqual([]);
  const older = runChecks(facts({ serverVersion: "15.8", serverVersionNum: 150008 }));
  expect(older).toMatchObject([{ check: "serverVersion", code: "UserErrorPgDumpVersionMismatch", severity: "fatal", object: "server pg2.example.com:5432" }]);
  expect(older[0]!.recommendedAction).toContain("PostgreSQL 16 or newer");
});

test("when the user lacks CREATEDB, CREATEROLE for createMissing, or ownership of a database to replace, then each is fatal", () => {
  expect(checksOf(facts({ createdb: false }))).toEqual(["fatal createDatabase role 'restorer'"]);
  expect(checksOf(facts({}, { createRoles: true }))).toEqual(["fatal createRoles role 'restorer'"]);
  expect(checksOf(facts({ existing: [{ name: "sales_restored", owned: false, mayCreate: true }] }, { overwrite: true }))).toEqual([
    "warning databaseNameInUse database 'sales_restored'",
    "fatal replaceOwnership database 'sales_restored'",
  ]);
  expect(checksOf(facts({ superuser: true, createdb: false, existing: [{ name: "sales_restored", owned: false, mayCreate: true }] }, { overwrite: true, createRoles: true }))).toEqual([
    "warning databaseNameInUse database 'sales_restored'",
  ]);
});

test("when an extension is not trusted, then fatal for a non-superuser; on Azure for one outside azure_pg_admin; and the allow-list decides too", () => {
  const untrusted = { available: [{ name: "hstore", needsSuperuser: true }, { name: "pg_trgm", needsSuperuser: false }] };
  expect(checksOf(facts(untrusted))).toEqual(["fatal extensionNeedsSuperuser extension 'hstore'"]);
  expect(checksOf(facts({ ...untrusted, superuser: true }))).toEqual([]);
  expect(checksOf(facts({ ...untrusted, azurePgAdmin: true }))).toEqual(["fatal extensionNeedsSuperuser extension 'hstore'"]);
  const onAzure = runChecks(facts({ ...untrusted, azureExtensions: ["hstore", "pg_trgm"] }));
  expect(onAzure.map((f) => f.check)).toEqual(["extensionNeedsSuperuser"]);
  expect(onAzure[0]!.recommendedAction).toContain("azure_pg_admin");
  expect(checksOf(facts({ ...untrusted, azureExtensions: ["hstore", "pg_trgm"], azurePgAdmin: true }))).toEqual([]);
  const azure = runChecks(facts({ azureExtensions: [], server: { host: "sales-2.postgres.database.azure.com", port: 5432 } }));
  expect(azure.map((f) => f.object)).toEqual(["extension 'hstore'", "extension 'pg_trgm'"]);
  expect(azure[0]!.recommendedAction).toContain("--server-name sales-2 --name azure.extensions --value hstore,pg_trgm");
});

test("when preserveOwnership meets owners the user is not a member of, then fatal per role; pg_database_owner is the database owner's own", () => {
  const roles = [{ name: "app_owner", exists: true, member: false }, { name: "pg_database_owner", exists: true, member: false }];
  expect(checksOf(facts({ roles }, { preserveOwnership: true }))).toEqual(["fatal ownerRoles role 'app_owner'"]);
  expect(checksOf(facts({ roles }))).toEqual([]);
  const missing = [{ name: "app_owner", exists: false, member: false }];
  expect(checksOf(facts({ roles: missing }, { preserveOwnership: true }))).toEqual(["fatal ownerRoles role 'app_owner'"]);
  // Roles the restore creates are not missing (CREATEROLE is its own check).
  expect(checksOf(facts({ roles: missing, createrole: true }, { preserveOwnership: true, createRoles: true }))).toEqual([]);
});

test("when several findings are fatal, then the restore's error is the first one's, naming the others, and says nothing was created", () => {
  const error = fatalError(runChecks(facts({ createdb: false, serverVersion: "15.8", serverVersionNum: 150008 })));
  expect(error?.code).toBe("UserErrorMissingRestorePermissions");
  expect(error?.detail).toContain("Nothing was created. Pre-flight also found: UserErrorPgDumpVersionMismatch (server pg2.example.com:5432).");
  expect(fatalError(runChecks(facts()))).toBeUndefined();
});
