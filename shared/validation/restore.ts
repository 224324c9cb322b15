import { recoveryPointIdPattern } from "../recoveryPoints/recoveryPointId";
import type { DatabaseMapping, ExportFormat, DatabaseRestoreTarget, PrivilegesMode, RestoreInclude, RestoreTarget, RolesMode, ServerRestoreTarget } from "../domain";
import { parseIdentifier, parseQualifiedName } from "../restore/restoreNames";
import { checkDatabaseAddress, checkDatabaseName, checkServerAddress } from "./instance";
import { IssueCollector, type JsonObject } from "./issues";
import { containerAddressOf, reservedContainerReason } from "../restore/exportTarget";

export interface RestoreRequest {
  recoveryPointId: string;
  target: RestoreTarget;
  /** Run the pre-flight only and answer with its findings; nothing is created and no job starts. */
  dryRun: boolean;
}

const rolesModes: readonly RolesMode[] = ["skip", "createMissing"];
const privilegesModes: readonly PrivilegesMode[] = ["all", "none"];
const exportFormats: readonly ExportFormat[] = ["files", "csv"];
/** Blob name prefixes: no leading slash, no `..` segments, printable characters. */
const prefixPattern = /^(?!\/)(?!.*(^|\/)\.\.(\/|$))[^\u0000-\u001f\\]{0,512}$/;

const maxDatabases = 500;
const maxIncluded = 1000;

/**
 * `include`: `schemas` (identifiers) and `tables` (`schema.table`), at least one name in all; each part folded to
 * lower case unless double-quoted, as PostgreSQL reads it. Kept as written: messages name them so.
 */
function parseInclude(issues: IssueCollector, value: unknown, path: string): RestoreInclude | undefined {
  if (value === undefined) return undefined;
  const raw = issues.object(value, path, ["schemas", "tables"]);
  const names = (key: "schemas" | "tables", parse: (text: string) => unknown, shape: string): string[] | undefined => {
    if (raw[key] === undefined) return undefined;
    const list = issues.array(raw[key], `${path}.${key}`, 1, maxIncluded);
    list.forEach((item, i) => {
      if (typeof item !== "string" || parse(item) === undefined) issues.add(`${path}.${key}[${i}]`, `must be ${shape} (double-quote a name with capitals, dots or spaces; at most 63 bytes each)`);
    });
    return list.filter((item): item is string => typeof item === "string");
  };
  const schemas = names("schemas", parseIdentifier, "a schema name");
  const tables = names("tables", parseQualifiedName, "schema.table");
  if (!schemas && !tables && Object.keys(raw).length === 0 && typeof value === "object" && value !== null) issues.add(path, "must name schemas or tables (leave include out to restore everything)");
  return { ...(schemas ? { schemas } : {}), ...(tables ? { tables } : {}) };
}
/**
 * A Flexible Server point to a server: `databases` lists `{ name, restoreAs? }` (absent: all, under their own
 * names); the names on the target must differ. Which databases the point holds is checked against the point.
 */
function parseServerTarget(issues: IssueCollector, raw: JsonObject): ServerRestoreTarget | undefined {
  for (const key of ["containerUrl", "prefix", "database", "preserveOwnership", "privileges", "include", "intoSchema"]) {
    if (key in raw) issues.add(`target.${key}`, key === "database" || key === "include" ? `is not a property of a server target: list databases under target.databases${key === "include" ? ", each with an include of its own" : ""}` : "is not a property of a server target");
  }
  const address = checkServerAddress(issues, raw, "target");
  const overwrite = issues.boolean(raw.overwrite, "target.overwrite", false);
  const roles = issues.oneOf(raw.roles, "target.roles", rolesModes, true) ?? "skip";
  let databases: DatabaseMapping[] | undefined;
  if (raw.databases !== undefined) {
    if (!Array.isArray(raw.databases) || raw.databases.length === 0 || raw.databases.length > maxDatabases) {
      issues.add("target.databases", `must be a list of 1 to ${maxDatabases} { "name", "restoreAs"? } objects (leave it out to restore every database)`);
    } else {
      databases = [];
      raw.databases.forEach((entry: unknown, i: number) => {
        const item = issues.object(entry, `target.databases[${i}]`, ["name", "restoreAs", "include"]);
        const name = checkDatabaseName(issues, item.name, `target.databases[${i}].name`);
        const restoreAs = item.restoreAs === undefined ? name : checkDatabaseName(issues, item.restoreAs, `target.databases[${i}].restoreAs`);
        const include = parseInclude(issues, item.include, `target.databases[${i}].include`);
        if (name !== undefined && restoreAs !== undefined) databases!.push({ name, restoreAs, ...(include ? { include } : {}) });
      });
      duplicates(databases.map((d) => d.name)).forEach((name) => issues.add("target.databases", `names '${name}' more than once`));
      duplicates(databases.map((d) => d.restoreAs)).forEach((name) => issues.add("target.databases", `restores two databases as '${name}'`));
    }
  }
  if (!address) return undefined;
  return { type: "server", ...address, ...(databases ? { databases } : {}), overwrite, roles };
}

/**
  * A point to one database. `preserveOwnership` has pg_restore restore owners and grants exactly as dumped (every
 * role must exist beforehand), so it combines with neither `privileges: "none"` nor `roles: "createMissing"`
 * (which creates the roles it can, and gives objects to their owners where it could create or find them).
 */
function parseDatabaseTarget(issues: IssueCollector, raw: JsonObject): DatabaseRestoreTarget | undefined {
  for (const key of ["containerUrl", "prefix", "databases"]) if (key in raw) issues.add(`target.${key}`, "is not a property of a database target");
  const address = checkDatabaseAddress(issues, raw, "target");
  const overwrite = issues.boolean(raw.overwrite, "target.overwrite", false);
  const preserveOwnership = issues.boolean(raw.preserveOwnership, "target.preserveOwnership", false);
  const privileges = issues.oneOf(raw.privileges, "target.privileges", privilegesModes, true) ?? "all";
  const roles = issues.oneOf(raw.roles, "target.roles", rolesModes, true) ?? "skip";
  if (preserveOwnership && privileges === "none") {
    issues.add("target.privileges", "cannot be \"none\" with preserveOwnership: pg_restore then restores every owner and grant as dumped");
  }
  if (preserveOwnership && roles === "createMissing") {
    issues.add("target.roles", "cannot be \"createMissing\" with preserveOwnership: createMissing restores ownership itself, where the roles could be created or exist; preserveOwnership needs every role on the target beforehand");
  }
  const include = parseInclude(issues, raw.include, "target.include");
  const intoSchema = parseIntoSchema(issues, raw, include !== undefined, overwrite, preserveOwnership);
  if (!address) return undefined;
  return { type: "database", ...address, overwrite, preserveOwnership, privileges, roles, ...(include ? { include } : {}), ...(intoSchema !== undefined ? { intoSchema } : {}) };
}

/**
 * `intoSchema`: the schema (an identifier, kept as the server will store it) a subset is restored under, beside the
 * live database's own objects: needs `include`, and neither replaces a database nor keeps the archive's owners (the
 * restored objects are the restoring user's, as in any restore without preserveOwnership).
 */
function parseIntoSchema(issues: IssueCollector, raw: JsonObject, included: boolean, overwrite: boolean, preserveOwnership: boolean): string | undefined {
  if (raw.intoSchema === undefined) return undefined;
  const text = issues.string(raw.intoSchema, "target.intoSchema", { maxLength: 130 });
  const schema = text === undefined ? undefined : parseIdentifier(text);
  if (text !== undefined && schema === undefined) issues.add("target.intoSchema", "must be a schema name (double-quote it to keep capitals or special characters; at most 63 bytes)");
  if (schema !== undefined && (schema.startsWith("pg_") || schema === "information_schema")) issues.add("target.intoSchema", "names a schema reserved by PostgreSQL");
  if (!included) issues.add("target.intoSchema", "needs target.include: name the tables (or schemas) to restore beside the live ones");
  if (overwrite) issues.add("target.overwrite", "cannot be true with intoSchema: the restore creates a new schema in the existing database and replaces nothing");
  if (preserveOwnership) issues.add("target.preserveOwnership", "cannot be true with intoSchema: what is restored beside the live objects belongs to the restoring user");
  return schema;
}

/**
 * A blob target's `format`: `files` (the default) or `csv`, which needs `include.tables` (the tables, each once) and
 * nothing else under include, and takes `database` (which database of a Flexible Server point; the point decides
 * whether it is needed). Returns what a CSV export adds to the target, undefined for files.
 */
function parseExportFormat(issues: IssueCollector, raw: JsonObject): { include: { tables: string[] }; database?: string } | undefined {
  const format = issues.oneOf(raw.format, "target.format", exportFormats, true) ?? "files";
  if (format === "files") {
    if (raw.database !== undefined) issues.add("target.database", "is not a property of a blob target (except with format \"csv\", for a Flexible Server point's database)");
    if (raw.include !== undefined) issues.add("target.include", "is for format \"csv\" (the tables to export); an export as files holds the whole point");
    return undefined;
  }
  const database = raw.database === undefined ? undefined : checkDatabaseName(issues, raw.database, "target.database");
  const withDatabase = database !== undefined ? { database } : {};
  if (raw.include === undefined) {
    issues.add("target.include", "is required with format \"csv\": name the tables as include.tables [\"schema.table\", ...]");
    return { include: { tables: [] }, ...withDatabase };
  }
  const include = parseInclude(issues, raw.include, "target.include");
  if (include?.schemas) issues.add("target.include.schemas", "is not supported with format \"csv\": name each table under include.tables");
  const tables = include?.tables ?? [];
  const same = duplicates(tables.map((text) => JSON.stringify(parseQualifiedName(text) ?? text)));
  if (same.length > 0) issues.add("target.include.tables", "names a table more than once");
  return { include: { tables }, ...withDatabase };
}

function duplicates(names: string[]): string[] {
  return [...new Set(names.filter((name, i) => names.indexOf(name) !== i))];
}

/** Validates a POST /backupInstances/{name}/restore body (SPEC section 2), reporting every issue at once. */
export function parseRestoreRequest(body: unknown): RestoreRequest {
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["recoveryPointId", "target", "dryRun"]);
  const recoveryPointId = issues.string(root.recoveryPointId, "recoveryPointId");
  if (recoveryPointId !== undefined && !recoveryPointIdPattern.test(recoveryPointId)) {
    issues.add("recoveryPointId", "must look like rp-YYYYMMDDTHHMMSSZ-<8 hex>");
  }
  const raw = issues.object(root.target, "target", ["type", "host", "port", "database", "databases", "roles", "secretRef", "auth", "overwrite", "preserveOwnership", "privileges", "containerUrl", "prefix", "include", "intoSchema", "format"]);
  const type = issues.oneOf(raw.type, "target.type", ["database", "server", "blob"] as const);
  let target: RestoreTarget | undefined;
  if (type === "server") {
    target = parseServerTarget(issues, raw);
  } else if (type === "database") {
    target = parseDatabaseTarget(issues, raw);
  } else if (type === "blob") {
    for (const key of ["host", "port", "databases", "roles", "secretRef", "auth", "preserveOwnership", "privileges", "intoSchema"]) {
      if (key in raw) issues.add(`target.${key}`, "is not a property of a blob target");
    }
    const containerUrl = issues.string(raw.containerUrl, "target.containerUrl", { maxLength: 2048 })?.replace(/\/+$/, "");
    const address = containerUrl === undefined ? undefined : containerAddressOf(containerUrl);
    if (containerUrl !== undefined && !address) {
      issues.add(
        "target.containerUrl",
        "must be the https URL of an Azure blob container (or a local Azurite one): the container's own name (lowercase letters, digits, hyphens; no %-escapes), no further path, no query (no SAS tokens)",
      );
    }
    const reserved = address && reservedContainerReason(address.container);
    if (reserved) issues.add("target.containerUrl", `is not allowed: ${reserved}`);
    const prefix = issues.string(raw.prefix, "target.prefix", { optional: true, maxLength: 512 }) ?? "";
    if (!prefixPattern.test(prefix)) issues.add("target.prefix", "must be a relative blob name prefix without '..' segments");
    const overwrite = issues.boolean(raw.overwrite, "target.overwrite", false);
    const csv = parseExportFormat(issues, raw);
    // An export as files keeps the shape it had before formats existed.
    if (containerUrl !== undefined) target = { type, containerUrl, prefix, overwrite, ...(csv ? { format: "csv" as const, ...csv } : {}) };
  }
  const dryRun = issues.boolean(root.dryRun, "dryRun", false);
  if (dryRun && type === "blob") issues.add("dryRun", "checks restores to a database or server; a restore as files has no pre-flight");
  issues.throwIfAny();
  return { recoveryPointId: recoveryPointId!, target: target!, dryRun };
}
