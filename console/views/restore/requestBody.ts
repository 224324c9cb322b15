/**
 * The restore wizard's choices as the body of POST /backupInstances/{name}/restore (docs/api.md, "Restore body"),
 * typed by the server's own target types. Each kind of target sends only the properties shared/validation/restore.ts
 * accepts for it: `preserveOwnership` never with `privileges: "none"`, `roles: "createMissing"` or `intoSchema`;
 * `intoSchema` and CSV only with the tables picked; no `dryRun` for blob targets.
 */
import type { BlobRestoreTarget, DatabaseMapping, DatabaseRestoreTarget, PrivilegesMode, RestoreInclude, RestoreTarget, RolesMode, ServerRestoreTarget } from "../../../shared/domain";

/** The kinds of target a point offers: a database dump's, or a Flexible Server point's (`server`). */
export type TargetKind = "newDatabase" | "overwrite" | "intoSchema" | "server" | "files" | "csv";

export const dumpTargetKinds: readonly TargetKind[] = ["newDatabase", "overwrite", "intoSchema", "files", "csv"];
export const serverPointTargetKinds: readonly TargetKind[] = ["server", "files", "csv"];

/** Targets a pre-flight (`dryRun`) can check: the API refuses it for blob targets. */
export const hasPreflight = (kind: TargetKind) => kind !== "files" && kind !== "csv";
/** Targets that restore only a subset: the tables (or schemas) must be picked. */
export const needsSubset = (kind: TargetKind) => kind === "intoSchema" || kind === "csv";
/** Targets that can take a subset at all: an export as files is the whole point. */
export const takesSubset = (kind: TargetKind) => kind !== "files";

export interface TargetChoice {
  kind: TargetKind;
  host: string;
  port: string;
  database: string;
  signIn: "secret" | "entra";
  secretRef: string;
  entraUser: string;
  preserveOwnership: boolean;
  privileges: PrivilegesMode;
  roles: RolesMode;
  intoSchema: string;
  /** `server`: replace databases of the same names. */
  replaceDatabases: boolean;
  /** `overwrite`, or `server` with replaceDatabases: the user confirmed the replacement. */
  replaceConfirmed: boolean;
  containerUrl: string;
  prefix: string;
  replaceFiles: boolean;
  /** `server`: the point's databases, which to restore and under which name. */
  serverDatabases: { name: string; selected: boolean; restoreAs: string }[];
}

export function emptyChoice(kind: TargetKind): TargetChoice {
  return {
    kind, host: "", port: "", database: "", signIn: "secret", secretRef: "", entraUser: "", preserveOwnership: false,
    privileges: "all", roles: "skip", intoSchema: "", replaceDatabases: false, replaceConfirmed: false,
    containerUrl: "", prefix: "", replaceFiles: false, serverDatabases: [],
  };
}

/** A table picked from the point's contents; `database` is the archive's database (one for a dump). */
export interface TablePick {
  database: string;
  schema: string;
  name: string;
}

/** The tables and whole schemas picked, per database of the point. */
export interface SubsetPick {
  tables: TablePick[];
  schemas: { database: string; schema: string }[];
}

/** An identifier double-quoted, as the API reads it exactly as written (no case folding). */
const quoted = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

function includeOf(subset: SubsetPick, database?: string): RestoreInclude | undefined {
  const inDatabase = <T extends { database: string }>(items: T[]) => items.filter((item) => database === undefined || item.database === database);
  const schemas = inDatabase(subset.schemas).map((s) => quoted(s.schema));
  const tables = inDatabase(subset.tables).filter((t) => !schemas.includes(quoted(t.schema))).map((t) => `${quoted(t.schema)}.${quoted(t.name)}`);
  if (schemas.length === 0 && tables.length === 0) return undefined;
  return { ...(schemas.length > 0 ? { schemas } : {}), ...(tables.length > 0 ? { tables } : {}) };
}

function signInOf(choice: TargetChoice) {
  const host = choice.host.trim();
  const port = choice.port.trim();
  const address = { ...(host ? { host } : {}), ...(port ? { port: Number(port) } : {}) };
  return choice.signIn === "entra"
    ? { ...address, auth: { type: "entra" as const, user: choice.entraUser.trim() } }
    : { ...address, secretRef: choice.secretRef.trim() };
}

function databaseTarget(choice: TargetChoice, subset: SubsetPick): DatabaseRestoreTarget {
  const include = includeOf(subset);
  const into = choice.kind === "intoSchema";
  return {
    type: "database",
    ...signInOf(choice),
    database: choice.database.trim(),
    overwrite: choice.kind === "overwrite",
    preserveOwnership: !into && choice.preserveOwnership,
    ...(into || !choice.preserveOwnership ? { privileges: choice.privileges, roles: choice.roles } : {}),
    ...(include ? { include } : {}),
    ...(into ? { intoSchema: choice.intoSchema.trim() } : {}),
  };
}

function serverTarget(choice: TargetChoice, subset: SubsetPick): ServerRestoreTarget {
  const picked = choice.serverDatabases.filter((d) => d.selected);
  const mappings: DatabaseMapping[] = picked.map((d) => {
    const include = includeOf(subset, d.name);
    return { name: d.name, restoreAs: d.restoreAs.trim() || d.name, ...(include ? { include } : {}) };
  });
  // Every database under its own name, whole: the API's default, so the list is left out.
  const everything = picked.length === choice.serverDatabases.length && mappings.every((m) => m.restoreAs === m.name && !m.include);
  return { type: "server", ...signInOf(choice), ...(everything ? {} : { databases: mappings }), overwrite: choice.replaceDatabases, roles: choice.roles };
}

function blobTarget(choice: TargetChoice, subset: SubsetPick, serverPoint: boolean): BlobRestoreTarget {
  const base = { type: "blob" as const, containerUrl: choice.containerUrl.trim(), prefix: choice.prefix.trim(), overwrite: choice.replaceFiles };
  if (choice.kind === "files") return base;
  const database = subset.tables[0]?.database;
  return {
    ...base,
    format: "csv",
    include: { tables: subset.tables.map((t) => `${quoted(t.schema)}.${quoted(t.name)}`) },
    ...(serverPoint && database !== undefined ? { database } : {}),
  };
}

export interface RestoreBody {
  recoveryPointId: string;
  target: RestoreTarget;
  dryRun?: true;
}

export function restoreBody(recoveryPointId: string, choice: TargetChoice, subset: SubsetPick, options: { serverPoint: boolean; dryRun: boolean }): RestoreBody {
  const target =
    choice.kind === "server" ? serverTarget(choice, subset)
    : choice.kind === "files" || choice.kind === "csv" ? blobTarget(choice, subset, options.serverPoint)
    : databaseTarget(choice, subset);
  return { recoveryPointId, target, ...(options.dryRun && hasPreflight(choice.kind) ? { dryRun: true as const } : {}) };
}

/** Why the picked subset does not fit the target yet (undefined when it does). */
export function subsetProblem(kind: TargetKind, subset: SubsetPick, serverPoint: boolean): string | undefined {
  if (kind === "csv") {
    if (subset.tables.length === 0) return "Pick at least one table to export as CSV.";
    if (serverPoint && new Set(subset.tables.map((t) => t.database)).size > 1) return "A CSV export reads one database's archive: pick tables of one database.";
    return undefined;
  }
  if (kind === "intoSchema" && subset.tables.length === 0 && subset.schemas.length === 0) return "Pick the tables (or schemas) to restore beside the live ones.";
  return undefined;
}
