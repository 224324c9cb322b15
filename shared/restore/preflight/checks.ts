/**
 * The pre-flight's checks: each a function of the facts read once (the request, the target server, each archive),
 * returning its findings. They do no I/O, so they run the same in a dry run and in the job, and a new check is one
 * function added to `preflightChecks` (its facts, if new, one more field read in targetFacts.ts or archiveFacts.ts).
 * The order is the order of fatal findings, so the first is the error a real restore fails with.
 */
import type { RestoreTarget } from "../../domain";
import { errorCatalog, someOf } from "../../errors";
import { majorNumber, type ArchiveFacts } from "./archiveFacts";
import { listedAtMost, type PreflightFinding } from "./findings";
import type { TargetFacts } from "./targetFacts";

/** What the restore is asked to do, as the checks need it. */
export interface PreflightRequest {
  target: Exclude<RestoreTarget, { type: "blob" }>;
  /** The database names the restore creates or replaces on the target. */
  databases: string[];
  overwrite: boolean;
  preserveOwnership: boolean;
  /** `roles: "createMissing"`: the restore creates the roles the archives need. */
  createRoles: boolean;
}

export interface PreflightFacts {
  request: PreflightRequest;
  target: TargetFacts;
  archives: ArchiveFacts[];
}

export type PreflightCheck = (facts: PreflightFacts) => PreflightFinding[];

const where = (target: TargetFacts) => `${target.server.host}:${target.server.port}`;
const serverObject = (target: TargetFacts) => `server ${where(target)}`;
const permissions = errorCatalog.UserErrorMissingRestorePermissions.recommendedAction;

/** Target names in use: fatal without overwrite (SPEC section 7), otherwise a warning that they will be replaced. */
const databaseNameInUse: PreflightCheck = ({ request, target }) =>
  target.existing.map(({ name }) =>
    request.overwrite
      ? {
          check: "databaseNameInUse", code: "UserErrorDatabaseNameAlreadyInUse", severity: "warning", object: `database '${name}'`,
          message: `Database '${name}' exists on ${where(target)} and will be replaced at the end of the restore; its open sessions are ended then.`,
          recommendedAction: "Expected with overwrite: tell the database's users, or restore under another name and compare first.",
        }
      : {
          check: "databaseNameInUse", code: "UserErrorDatabaseNameAlreadyInUse", severity: "fatal", object: `database '${name}'`,
          message: `Database '${name}' already exists on ${where(target)}.`,
          recommendedAction: errorCatalog.UserErrorDatabaseNameAlreadyInUse.recommendedAction,
        },
  );

/** pgvault always restores into a new temporary database first. */
const createDatabase: PreflightCheck = ({ target }) =>
  target.createdb || target.superuser
    ? []
    : [{
        check: "createDatabase", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: `role '${target.user}'`,
        message: `User '${target.user}' lacks CREATEDB on ${where(target)}; pgvault restores into a new temporary database and swaps it in.`,
        recommendedAction: permissions,
      }];

/** Replacing a database takes its ownership (or superuser): the swap renames and drops it. */
const replaceOwnership: PreflightCheck = ({ request, target }) =>
  !request.overwrite || target.superuser
    ? []
    : target.existing.filter((d) => !d.owned).map(({ name }) => ({
        check: "replaceOwnership", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: `database '${name}'`,
        message: `User '${target.user}' does not own database '${name}' on ${where(target)}, so cannot replace it.`,
        recommendedAction: `Make '${target.user}' the owner (ALTER DATABASE ... OWNER TO ...), or restore under another name.`,
      }));

const createRoles: PreflightCheck = ({ request, target }) =>
  !request.createRoles || target.createrole || target.superuser
    ? []
    : [{
        check: "createRoles", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: `role '${target.user}'`,
        message: `User '${target.user}' lacks CREATEROLE on ${where(target)}, which roles: "createMissing" needs to create the backup's roles.`,
        recommendedAction: `Grant '${target.user}' CREATEROLE, or restore with roles: "skip".`,
      }];

/**
 * An archive restores into a server of its own major version or newer (SPEC section 7); an older server lacks what
 * the dump's statements use. Closest spec code: UserErrorPgDumpVersionMismatch (dump and server versions that do not fit).
 */
const serverVersion: PreflightCheck = ({ target, archives }) =>
  archives
    .filter((a) => majorNumber(target.serverVersionNum) < majorNumber(a.serverVersion))
    .map((a) => ({
      check: "serverVersion", code: "UserErrorPgDumpVersionMismatch", severity: "fatal", object: serverObject(target),
      message: `The archive of '${a.database}' was dumped from PostgreSQL ${a.serverVersion}; ${where(target)} runs ${target.serverVersion}, an older major version.`,
      recommendedAction: `Restore to a server running PostgreSQL ${a.serverVersion.split(".")[0]} or newer (upgrade the target server first).`,
    }));

/** plpgsql is in every database, template0 included, so its CREATE EXTENSION IF NOT EXISTS never needs the server. */
const alwaysInstalled = new Set(["plpgsql"]);

/** Each extension the archives create, once, with the databases whose archives create it. */
function extensionsCreated(archives: readonly ArchiveFacts[]): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const archive of archives) {
    for (const name of archive.extensions) if (!alwaysInstalled.has(name)) byName.set(name, [...(byName.get(name) ?? []), archive.database]);
  }
  return byName;
}

const databasesOf = (databases: string[]) => someOf(databases.map((d) => `'${d}'`), 5, ", ");

/**
 * Extensions the archives create that the target server does not have installed at all. Closest spec code:
 * UserErrorMissingRestorePermissions (the target lacks what the restore needs from it; on Azure it is a server
 * parameter an administrator sets).
 */
const extensionAvailable: PreflightCheck = ({ target, archives }) => {
  const available = new Set(target.available.map((e) => e.name));
  return [...extensionsCreated(archives)].filter(([name]) => !available.has(name)).map(([name, databases]) => ({
    check: "extensionAvailable", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: `extension '${name}'`,
    message: `The archive of ${databasesOf(databases)} creates extension '${name}', which ${where(target)} does not offer (not in pg_available_extensions).`,
    recommendedAction: target.azureExtensions
      ? `Azure Database for PostgreSQL on PostgreSQL ${target.serverVersion} does not support '${name}': restore to a server version that lists it (see "Extensions and modules by engine version" in the Azure docs), or drop the extension on the source before the backup.`
      : `Install the package that provides '${name}' on the target server (for contrib modules, postgresql-contrib of the server's version), or restore to a server that has it.`,
  }));
};

/** The server name in an Azure Database for PostgreSQL host (`<server>.postgres.database.azure.com`, or `<server>.private...`). */
function azureServerName(host: string): string {
  return /^([a-z0-9-]+)\.(?:private\.)?postgres\.database\./i.exec(host)?.[1] ?? "<server>";
}

/**
 * On Azure Database for PostgreSQL an extension is created only when the `azure.extensions` server parameter lists
 * it. The parameter holds the whole list, so the command sets what it holds now plus what is missing: "Allow
 * extensions", https://learn.microsoft.com/azure/postgresql/extensions/how-to-allow-extensions (portal, `az postgres
 * flexible-server parameter set --name azure.extensions --value <a>,<b>`, ARM `flexibleServers/configurations`).
 */
const extensionAllowed: PreflightCheck = ({ target, archives }) => {
  const allowed = target.azureExtensions;
  if (!allowed) return [];
  const available = new Set(target.available.map((e) => e.name));
  const missing = [...extensionsCreated(archives)].filter(([name]) => available.has(name) && !allowed.includes(name));
  if (missing.length === 0) return [];
  const value = [...new Set([...allowed, ...missing.map(([name]) => name)])].join(",");
  const command =
    `az postgres flexible-server parameter set --resource-group <resource-group> --server-name ${azureServerName(target.server.host)} ` +
    `--name azure.extensions --value ${value}`;
  return missing.map(([name, databases]) => ({
    check: "extensionAllowed", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: `extension '${name}'`,
    message: `The archive of ${databasesOf(databases)} creates extension '${name}', which the azure.extensions server parameter of ${where(target)} does not allow (it allows: ${allowed.join(", ") || "none"}).`,
    recommendedAction: `Allow it on the server (the value is the whole list: what it allows now plus what the restore needs): ${command}. Or in the portal: Server parameters, azure.extensions. Then run the restore again.`,
  }));
};

/**
 * An extension that is not trusted is created only by a superuser, and pg_restore stops at its CREATE EXTENSION. On
 * Azure Database for PostgreSQL, members of `azure_pg_admin` may create allow-listed untrusted ones ("Create
 * extensions", https://learn.microsoft.com/azure/postgresql/extensions/how-to-create-extensions: untrusted ones need
 * azure_pg_admin, trusted ones only CREATE on the database).
 */
const extensionNeedsSuperuser: PreflightCheck = ({ target, archives }) => {
  const azure = target.azureExtensions !== undefined;
  if (target.superuser || (azure && target.azurePgAdmin)) return [];
  const needs = new Set(target.available.filter((e) => e.needsSuperuser).map((e) => e.name));
  return [...extensionsCreated(archives)].filter(([name]) => needs.has(name)).map(([name, databases]) => ({
    check: "extensionNeedsSuperuser", code: "UserErrorMissingRestorePermissions", severity: "fatal", object: `extension '${name}'`,
    message: azure
      ? `The archive of ${databasesOf(databases)} creates extension '${name}', which is not trusted: on ${where(target)} only members of azure_pg_admin may create it, and '${target.user}' is not one.`
      : `The archive of ${databasesOf(databases)} creates extension '${name}', which only a superuser may create on ${where(target)}, and '${target.user}' is not one.`,
    recommendedAction: azure
      ? `Restore with the server's administrator login (a member of azure_pg_admin), or grant azure_pg_admin to '${target.user}'.`
      : `Restore with a superuser, or have a superuser create '${name}' in template1 of the target server first (new databases then have it).`,
  }));
};

/**
 * pg_database_owner (PostgreSQL 14+, owner of `public` in their dumps) stands for whoever owns the database: in the
 * restored database that is the restoring user, who is therefore a member there (not in the maintenance database).
 */
const ownerOfEveryDatabase = "pg_database_owner";

/**
 * With preserveOwnership, pg_restore gives every object its owner: each must exist and be one the user may act as.
 * Roles the restore creates itself (`createRoles`) are not missing: it makes the user a member of each.
 */
const ownerRoles: PreflightCheck = ({ request, target, archives }) => {
  if (!request.preserveOwnership) return [];
  const owners = new Set(archives.flatMap((a) => a.owners));
  const named = target.roles.filter((r) => owners.has(r.name) && !(r.name === ownerOfEveryDatabase && r.exists));
  const missing = request.createRoles ? [] : named.filter((r) => !r.exists).map((r) => r.name);
  const notMember = target.superuser ? [] : named.filter((r) => r.exists && !r.member).map((r) => r.name);
  return [
    ...missing.slice(0, listedAtMost).map((name) => ({
      check: "ownerRoles", code: "UserErrorMissingRestorePermissions" as const, severity: "fatal" as const, object: `role '${name}'`,
      message: `Role '${name}' owns objects in the archive and does not exist on ${where(target)}; preserveOwnership needs it.`,
      recommendedAction: `Create role '${name}' on the target (CREATE ROLE ... NOLOGIN) and grant it to '${target.user}', or restore without preserveOwnership.`,
    })),
    ...notMember.slice(0, listedAtMost).map((name) => ({
      check: "ownerRoles", code: "UserErrorMissingRestorePermissions" as const, severity: "fatal" as const, object: `role '${name}'`,
      message: `Role '${name}' owns objects in the archive, and '${target.user}' is not a member of it on ${where(target)}, so cannot give it objects.`,
      recommendedAction: `GRANT ${name} TO ${target.user} on the target, or restore without preserveOwnership.`,
    })),
  ];
};

export const preflightChecks: readonly PreflightCheck[] = [
  databaseNameInUse,
  createDatabase,
  replaceOwnership,
  createRoles,
  serverVersion,
  extensionAvailable,
  extensionAllowed,
  extensionNeedsSuperuser,
  ownerRoles,
];

export function runChecks(facts: PreflightFacts, checks: readonly PreflightCheck[] = preflightChecks): PreflightFinding[] {
  return checks.flatMap((check) => check(facts));
}
