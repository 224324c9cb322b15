/**
 * Restore into a database without ever leaving it half-restored: the recovery point's blob is streamed into
 * `pg_restore` working on a fresh temporary database, its SHA-256 checked over every byte on the way (and, when it
 * is encrypted, each segment decrypted and authenticated before pg_restore sees it), and only a complete,
 * verified restore is renamed into place. Any failure drops the temporary database; the target is
 * not touched until the final rename. Unless ownership is preserved, pg_restore leaves owners and grants out and
 * the grants the target can take are applied afterwards (applyPrivileges.ts), before the database is marked.
 *
 * Safe with two copies of a step at once (activities are at-least-once, and a copy that lost its lease keeps
 * running): each attempt restores into a database of its own (`attemptDatabaseName`) and marks it complete (a
 * `COMMENT ON DATABASE` naming the attempt) only after the restore verified; the swap renames only the database
 * whose name the orchestration was handed, checks its mark inside the renaming transaction, and drops the old
 * target only after that committed. Nothing but a sweep after the job moved on drops another attempt's database.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Writable } from "node:stream";
import pg from "pg";
import { readArchive } from "../archive/archiveReader";
import { startZstdDecompressorInto } from "../compression/compressionStreams";
import type { DatabaseRestoreTarget, DumpRecoveryPoint, ObjectLeftOut, RestoreInclude, SkippedForRole } from "../domain";
import { unwrapDataKey } from "../encryption/dataKeys";
import { openSegments } from "../encryption/segmentFormat";
import { PgVaultError, someOf } from "../errors";
import { authenticationFailure, serverNotVerifiedInOutput, withConnection, type ConnectionParams } from "../postgres/connection";
import { connectionLostPattern, errorLine, startPgTool } from "../postgres/toolProcess";
import { storageFailure } from "../storageErrors";
import { declaredEncoding, decodeArchiveText, textOfBytes } from "./archiveEncoding";
import { parseArchivePrivileges, privilegeSections, type ArchivePrivileges } from "./archivePrivileges";
import { applyPrivileges, type PrivilegeHandling } from "./applyPrivileges";
import { namesMissingFromListing, planSubset, tocHeaderArgs, type SubsetPlan } from "./archiveSubset";
import { gatherIntoSchema } from "./intoSchema";
import type { QualifiedName } from "./restoreNames";
import { connectMaintenance } from "./restoreAccess";
import { archiveBytes, dumpLabel, hashed, openBlob, pointArchive, restoreSourceOf, type RestoreSource } from "./pointArchive";

// Where they were first written: their users import them from here too.
export { archiveBytes, hashed, restoreSourceOf, type RestoreSource };

/**
 * The stem of every database a job's restore attempts create: deterministic per job, so a sweep (after the swap,
 * on the failure path, a cancel's cleanup) finds what any attempt left.
 */
export function temporaryDatabaseName(jobId: string): string {
  return `pgvault_restore_${createHash("sha256").update(jobId).digest("hex").slice(0, 16)}`;
}

/** One attempt's own database: the job's stem and a random suffix, so two copies of a step never share one. */
export function attemptDatabaseName(stem: string): string {
  return `${stem}_${randomBytes(4).toString("hex")}`;
}

/** What an attempt's database is, and the mark it gets once the restore into it is complete and verified. */
export interface RestoreAttempt {
  database: string;
  mark: string;
}

/** The attempt of `jobId` restoring into `database` (one `attemptDatabaseName` made); the mark names both. */
export function restoreAttempt(jobId: string, database: string): RestoreAttempt {
  return { database, mark: `pgvault: complete restore, job ${jobId}, attempt ${database}` };
}

const ident = (name: string) => pg.escapeIdentifier(name);

/** SQL failures on the target server in spec terms; the server's message names the object, never a password. */
function serverFailure(err: unknown, params: ConnectionParams): unknown {
  if (err instanceof PgVaultError) return err;
  const { code, message } = err as { code?: string; message?: string };
  const where = `${params.host}:${params.port}`;
  if (code === "42501") {
    return new PgVaultError("UserErrorMissingRestorePermissions", `User '${params.user}' may not do this on ${where}: ${message}. Replacing a database in use needs pg_signal_backend.`);
  }
  if (code === "55006") return new PgVaultError("SystemErrorUnexpected", `A database on ${where} is still in use: ${message}`, { transient: true });
  return err;
}

async function withMaintenance<T>(params: ConnectionParams, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectMaintenance(params);
  try {
    return await work(client);
  } catch (err) {
    throw serverFailure(err, params);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function terminateSessions(client: pg.Client, database: string): Promise<void> {
  await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [database]);
}

async function dropWithSessions(client: pg.Client, database: string): Promise<void> {
  await terminateSessions(client, database);
  await client.query(`DROP DATABASE IF EXISTS ${ident(database)}`);
}

async function dropDatabaseIfExists(params: ConnectionParams, database: string): Promise<void> {
  await withMaintenance(params, (client) => dropWithSessions(client, database));
}

/** Every database whose name starts with `stem`: all that a job's attempts made (and a target they retired). */
async function dropStemDatabases(client: pg.Client, stem: string): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1`, [stem]);
  for (const row of rows) await dropWithSessions(client, row.datname);
}

/**
 * Drops what a job's attempts left on the server (`stem` is the job's `temporaryDatabaseName` or drill scratch
 * name). Run only once the job's row has moved past the step that creates them (see `throwIfStepOver`).
 */
export async function dropAttemptDatabases(params: ConnectionParams, stem: string): Promise<void> {
  await withMaintenance(params, (client) => dropStemDatabases(client, stem));
}

/** Each named database's comment (its completion mark, if any): null without one, absent when there is no such database. */
async function marksOf(client: pg.Client, databases: string[]): Promise<Map<string, string | null>> {
  const { rows } = await client.query<{ datname: string; mark: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = ANY($1)`,
    [databases],
  );
  return new Map(rows.map((row) => [row.datname, row.mark]));
}

/** The database's completion mark: null without one, undefined when there is no such database. */
export async function markOf(client: pg.Client, database: string): Promise<string | null | undefined> {
  return (await marksOf(client, [database])).get(database);
}

const pgRestoreExited = "pg_restore exited with code";

/** Maps pg_restore's failure output to a spec code. */
export function restoreFailure(stderr: string, exitCode: number | null, params: ConnectionParams): PgVaultError {
  const line = errorLine(stderr, params.password);
  const role = /role "([^"]+)" does not exist/.exec(stderr);
  if (role) {
    return new PgVaultError("UserErrorMissingRestorePermissions", `Role '${role[1]}' does not exist on ${params.host}:${params.port}: ${line}`);
  }
  if (/password authentication failed|no pg_hba\.conf entry/i.test(stderr)) return authenticationFailure(params);
  const unverified = serverNotVerifiedInOutput(stderr, params);
  if (unverified) return unverified;
  if (/permission denied|must be owner|must be superuser/i.test(stderr)) return new PgVaultError("UserErrorMissingRestorePermissions", line);
  if (/unsupported version .* in file header/i.test(stderr)) {
    return new PgVaultError("UserErrorPgDumpVersionMismatch", `The configured pg_restore is older than the recovery point's archive: ${line}`);
  }
  if (/could not connect|Connection refused/i.test(stderr) || connectionLostPattern.test(stderr)) {
    return new PgVaultError("UserErrorServerUnreachable", `Lost ${params.host}:${params.port} during the restore: ${line}`, { transient: true });
  }
  return new PgVaultError("SystemErrorUnexpected", `${pgRestoreExited} ${exitCode}: ${line}`);
}

/**
 * Whether `err` is pg_restore failing on the archive's own content (a statement that does not apply, data it cannot
 * read), as opposed to access, version or connection problems, which have codes of their own. A restore drill,
 * which restores on the source's own server, takes that as the archive's fault.
 */
export function isArchiveFailure(err: unknown): err is PgVaultError {
  return err instanceof PgVaultError && err.code === "SystemErrorUnexpected" && err.detail.startsWith(pgRestoreExited) && !serverTrouble.test(err.detail);
}

/** The server's own trouble, whatever the archive holds: never a verdict on the archive. */
const serverTrouble = /no space left|could not extend file|out of memory|too many connections|deadlock detected|canceling statement|terminated by/i;

async function write(stream: Writable, chunk: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) return resolve(false);
    const ok = stream.write(chunk, (err) => (err ? resolve(false) : undefined));
    if (ok) resolve(true);
    else stream.once("drain", () => resolve(true));
  });
}

export interface RestoreProgress {
  onProgress?: (bytes: number) => void;
  /**
   * Asked once the attempt's database exists and again before it is marked complete; throwing (the job was
   * cancelled, or no longer waits for this copy) stops the restore and drops that database.
   */
  stillWanted?: () => Promise<void>;
}

/**
 * Streams the blob through SHA-256 into pg_restore. Every byte is hashed even when pg_restore stops early, so
 * a corrupted recovery point is reported as such rather than as whatever pg_restore made of the bad bytes.
 */
async function streamIntoPgRestore(
  source: RestoreSource,
  dataKey: Buffer | undefined,
  args: string[],
  params: ConnectionParams,
  progress: RestoreProgress,
): Promise<number> {
  const blob = await openBlob(source);
  const restore = startPgTool("pg_restore", args, params, { stdin: "pipe", stdout: "ignore" }, (stderr, code) => restoreFailure(stderr, code, params));
  // Observed from the start: pg_restore may fail while the blob is still being read.
  const exitError = restore.exited.then(() => undefined, (err: unknown) => err);
  // zstd decompresses straight into pg_restore's stdin, so the archive (seven times the stored bytes) bypasses Node;
  // it is fed only segments that already checked. Our end of that stdin is closed, or pg_restore would never see its end.
  const zstd = source.compression === "zstd" ? startZstdDecompressorInto(restore.child.stdin!, dumpLabel(source, dataKey)) : undefined;
  if (zstd) restore.child.stdin!.destroy();
  const target = zstd ? zstd.input : restore.child.stdin!;
  target.on("error", () => undefined); // the reader may exit before reading everything; its exit code tells why
  const hash = createHash("sha256");
  let bytes = 0;
  let feeding = true;
  const stored = hashed(blob, hash, (n) => (bytes += n));
  try {
    for await (const chunk of zstd ? openSegments(stored, dataKey, dumpLabel(source, dataKey)) : archiveBytes(stored, source, dataKey)) {
      if (feeding) feeding = await write(target, chunk);
      progress.onProgress?.(bytes);
    }
  } catch (err) {
    // A segment that failed authentication, or the blob could not be read: pg_restore must not go on.
    zstd?.kill();
    restore.kill();
    await exitError;
    if (err instanceof PgVaultError) throw err;
    throw storageFailure(err, `reading ${source.blobPath}`);
  }
  target.end();
  // A stream that does not decode is the point's fault, whatever pg_restore made of the cut-off archive.
  const decodeError = await zstd?.exited.then(() => undefined, (err: unknown) => err);
  if (decodeError) {
    restore.kill();
    await exitError;
    throw decodeError;
  }
  const exit = await exitError;
  if (source.sha256 !== undefined && hash.digest("hex") !== source.sha256) {
    throw new PgVaultError("UserErrorRecoveryPointCorrupted", `The stored bytes of ${source.blobPath} do not match the recovery point's SHA-256.`);
  }
  if (exit) throw exit;
  return bytes;
}

/**
 * What `pg_restore <args>` prints (no database: SQL or a listing on stdout) for the archive, fed only as much of
 * the stream as pg_restore reads: with no table data asked for, that is the table of contents at its head.
 */
export async function archiveHeadOutput(source: RestoreSource, dataKey: Buffer | undefined, params: ConnectionParams, args: string[]): Promise<string> {
  // A listing prints names in the dumped database's encoding and, unlike SQL output, does not say which one: the
  // archive's ENCODING entry does.
  const [printed, encoding] = await Promise.all([archiveHeadBytes(source, dataKey, params, args), archiveEncodingOf(source, dataKey)]);
  const read = textOfBytes(encoding) ?? textOfBytes("UTF8")!;
  return read(printed, 0, printed.length);
}

/** The encoding of the dumped database, from the archive's table of contents (its head only is read). */
async function archiveEncodingOf(source: RestoreSource, dataKey: Buffer | undefined): Promise<string> {
  for await (const event of readArchive(pointArchive(source, dataKey ? { dataKey } : {}), source.blobPath)) {
    if (event.type === "toc") return declaredEncoding(event.entries.find((entry) => entry.desc === "ENCODING")?.defn ?? "");
  }
  return "UTF8";
}

/** As `archiveHeadOutput`, the bytes as printed (SQL is printed in the encoding of the dumped database). */
export async function archiveHeadBytes(source: RestoreSource, dataKey: Buffer | undefined, params: ConnectionParams, args: string[]): Promise<Buffer> {
  const blob = await openBlob(source);
  const tool = startPgTool("pg_restore", args, params, { stdin: "pipe", stdout: "pipe" }, (stderr, code) => restoreFailure(stderr, code, params));
  const exited = tool.exited.then(() => undefined, (err: unknown) => err);
  const printed: Buffer[] = [];
  tool.child.stdout!.on("data", (part: Buffer) => printed.push(part));
  const stdin = tool.child.stdin!;
  stdin.on("error", () => undefined);
  try {
    for await (const chunk of archiveBytes(blob as AsyncIterable<Buffer>, source, dataKey)) {
      if (!(await write(stdin, chunk))) break; // pg_restore has read what it needs and exited
    }
  } catch (err) {
    tool.kill();
    await exited;
    if (err instanceof PgVaultError) throw err;
    throw storageFailure(err, `reading ${source.blobPath}`);
  } finally {
    blob.destroy();
  }
  stdin.end();
  const failure = await exited;
  if (failure) throw failure;
  return Buffer.concat(printed);
}

/**
 * The archive's ownership and privilege statements (archivePrivileges.ts), read from its head: what a restore
 * with `--no-owner --no-privileges` leaves out, and the roles it names (`rolesNamed`).
 */
export async function readArchivePrivileges(source: RestoreSource, dataKey: Buffer | undefined, params: ConnectionParams, useList: string[] = []): Promise<ArchivePrivileges> {
  const printed = await archiveHeadBytes(source, dataKey, params, [...privilegeSections, ...useList]);
  return parseArchivePrivileges(decodeArchiveText(printed, source.blobPath));
}

/** Owners named in the archive's table of contents (read from the stream's head only). */
async function archiveOwners(source: RestoreSource, dataKey: Buffer | undefined, params: ConnectionParams): Promise<string[]> {
  const text = await archiveHeadOutput(source, dataKey, params, ["--list"]);
  const owners = new Set<string>();
  for (const line of text.split("\n")) {
    // "<id>; <catalog oid> <oid> <TYPE> <schema> <tag> <owner>": the owner is the last field, empty (the line
    // ends with a space) for entries that have none, such as extensions and large-object data.
    const match = /^\d+; \d+ \d+ .* (\S*)$/.exec(line.trimStart());
    if (match?.[1]) owners.add(match[1]);
  }
  return [...owners].sort();
}

const listedRolesAtMost = 50;

async function assertOwnersUsable(source: RestoreSource, dataKey: Buffer | undefined, params: ConnectionParams): Promise<void> {
  const owners = await archiveOwners(source, dataKey, params);
  const unusable = await withMaintenance(params, async (client) => {
    const { rows } = await client.query<{ name: string }>(
      `SELECT o.name FROM unnest($1::text[]) AS o(name)
       WHERE NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = o.name AND pg_has_role(current_user, r.oid, 'MEMBER'))`,
      [owners],
    );
    return rows.map((row) => row.name);
  });
  if (unusable.length > 0) {
    throw new PgVaultError(
      "UserErrorMissingRestorePermissions",
      `preserveOwnership needs the owner roles on ${params.host}:${params.port}, and membership in them for user '${params.user}'; missing or not granted: ${someOf(unusable, listedRolesAtMost, ", ")}.`,
    );
  }
}

/**
 * The part of the archive `include` names (archiveSubset.ts), from its table of contents: read from the stream's
 * head twice (the listing, then the entries' headers and dependencies), before anything is created.
 */
export async function readSubsetPlan(source: RestoreSource, dataKey: Buffer | undefined, params: ConnectionParams, include: RestoreInclude, pointLabel: string): Promise<SubsetPlan> {
  const listing = await archiveHeadOutput(source, dataKey, params, ["--list"]);
  const printed = decodeArchiveText(await archiveHeadBytes(source, dataKey, params, tocHeaderArgs), source.blobPath);
  return planSubset(listing, printed, include, pointLabel);
}

/** pg_restore only printing (no database): nothing to connect to, no credentials in its environment. */
const noServer: ConnectionParams = { host: "", port: 0, database: "", user: "", password: "", sslMode: "disable" };

/**
 * The names of `include` the point's archive listing lacks (`namesMissingFromListing`), read without a server: a
 * request can be refused before its job starts. Reads the archive's head only (after unwrapping its key).
 */
export async function namesMissingFromPoint(rp: DumpRecoveryPoint, include: RestoreInclude): Promise<string[]> {
  return namesMissingFromArchive(restoreSourceOf(rp), include);
}

/** The same for any archive the vault holds (a Flexible Server point's database file, say). */
export async function namesMissingFromArchive(source: RestoreSource, include: RestoreInclude): Promise<string[]> {
  const dataKey = source.encryption && (await unwrapDataKey(source.encryption));
  try {
    return namesMissingFromListing(await archiveHeadOutput(source, dataKey, noServer, ["--list"]), include);
  } finally {
    dataKey?.fill(0);
  }
}

/** The subset's use-list in a directory of its own (pg_restore reads it by name); the caller removes the directory. */
async function writeUseList(plan: SubsetPlan): Promise<{ dir: string; args: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), "pgvault-subset-"));
  const file = path.join(dir, "use.list");
  await writeFile(file, plan.useList, { mode: 0o600 });
  return { dir, args: [`--use-list=${file}`] };
}

export interface RestoredArchive {
  bytes: number;
  /** A subset restore: what was left out because it needs what was not restored (a foreign key to a table left out). */
  objectsLeftOut: ObjectLeftOut[];
  /** A subset restore: the tables restored, as the archive names them. */
  tables: QualifiedName[];
  /** What the restore left out for want of a role on the target (see applyPrivileges.ts), per role. */
  grantsSkipped: SkippedForRole[];
  ownershipSkipped: SkippedForRole[];
}

/**
 * Restores into the attempt's database (created fresh) and marks it complete once every byte verified, pg_restore
 * succeeded and the archive's grants were applied; drops it again on any failure. Owners and grants:
 * - `target.preserveOwnership`: pg_restore restores them, after a check that every owner exists and is the user's;
 * - otherwise pg_restore restores neither, and with `privileges` they are applied afterwards as far as the target
 *   has their roles (applyPrivileges.ts); without it (restore drills) none are.
 */
export async function restoreIntoTemporary(
  params: ConnectionParams,
  target: DatabaseRestoreTarget,
  source: RestoreSource,
  attempt: RestoreAttempt,
  progress: RestoreProgress = {},
  privileges?: PrivilegeHandling,
): Promise<RestoredArchive> {
  // Before anything is created: a key that is gone, forbidden or wrong fails the restore with nothing to clean up.
  const dataKey = source.encryption && (await unwrapDataKey(source.encryption));
  let listDir: string | undefined;
  try {
    // So is a name the point does not hold: the subset is chosen before the database exists.
    const subset = target.include ? await readSubsetPlan(source, dataKey, params, target.include, `The recovery point (${source.blobPath})`) : undefined;
    const useList = subset ? await writeUseList(subset) : undefined;
    listDir = useList?.dir;
    if (target.preserveOwnership) await assertOwnersUsable(source, dataKey, params);
    await withMaintenance(params, (client) => client.query(`CREATE DATABASE ${ident(attempt.database)} TEMPLATE template0`));
    await progress.stillWanted?.();
    const ownership = target.preserveOwnership ? [] : ["--no-owner", "--no-privileges"];
    const args = ["--exit-on-error", "--no-password", `--dbname=${attempt.database}`, ...ownership, ...(useList?.args ?? [])];
    const restored = { ...params, database: attempt.database };
    const bytes = await streamIntoPgRestore(source, dataKey, args, restored, progress);
    // Read once every byte matched the point's SHA-256: a damaged head is reported as such, not as pg_restore's error.
    const statements = !target.preserveOwnership && privileges ? await readArchivePrivileges(source, dataKey, params, useList?.args) : undefined;
    const skipped = statements
      ? await withConnection(restored, (client) => applyPrivileges(client, statements, { ...privileges!, database: target.database }))
      : { grantsSkipped: [], ownershipSkipped: [] };
    if (target.intoSchema) await withConnection(restored, (client) => gatherIntoSchema(client, target.intoSchema!, subset ?? { schemas: [], tables: [] }, attempt.mark));
    await progress.stillWanted?.();
    await withMaintenance(params, (client) => client.query(`COMMENT ON DATABASE ${ident(attempt.database)} IS ${pg.escapeLiteral(attempt.mark)}`));
    const objectsLeftOut = (subset?.objectsLeftOut ?? []).map((left) => ({ database: target.database, ...left }));
    return { bytes, ...skipped, objectsLeftOut, tables: subset?.tables ?? [] };
  } catch (err) {
    await dropDatabaseIfExists(params, attempt.database).catch(() => undefined);
    throw err;
  } finally {
    dataKey?.fill(0);
    if (listDir) await rm(listDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** One database to put in place: the target's name, and the restored attempt's database with its mark. */
export interface SwapPair {
  target: string;
  restored: RestoreAttempt;
}

/**
 * Puts the restored attempt's database in place. An existing target is replaced in one transaction of two renames,
 * after its sessions are terminated (documented: overwrite disconnects users of the old database), and only when
 * the attempt's mark is on the database being renamed into place; the old one is dropped after the commit, with
 * whatever other attempts of the job left (`stem`). A repeated swap finds its mark on the target and only sweeps.
 */
export async function swapIn(params: ConnectionParams, target: DatabaseRestoreTarget, restored: RestoreAttempt, stem: string): Promise<void> {
  await swapInAll(params, target.overwrite, [{ target: target.database, restored }], stem);
}

/**
 * `swapIn` for several databases of one server at once (a Flexible Server point's): every rename in one
 * transaction, so the target gets all of them or none. Databases already carrying their mark (a repeated swap) are
 * left as they are; `stem` is swept after the commit.
 */
export async function swapInAll(params: ConnectionParams, overwrite: boolean, pairs: readonly SwapPair[], stem: string): Promise<void> {
  const where = `${params.host}:${params.port}`;
  await withMaintenance(params, async (client) => {
    const marks = await marksOf(client, pairs.flatMap((pair) => [pair.target, pair.restored.database]));
    const pending = pairs.filter((pair) => marks.get(pair.target) !== pair.restored.mark);
    const untouched = pending.map((pair) => `'${pair.target}'`).join(", ");
    for (const pair of pending) {
      if (!marks.has(pair.restored.database)) {
        throw new PgVaultError("SystemErrorUnexpected", `The restored database '${pair.restored.database}' no longer exists on ${where}; ${untouched} were not touched.`);
      }
      if (marks.has(pair.target) && !overwrite) {
        throw new PgVaultError("UserErrorDatabaseNameAlreadyInUse", `Database '${pair.target}' was created on ${where} during the restore; ${untouched} were not touched.`);
      }
    }
    if (pending.length > 0) await renameIntoPlace(client, pending.map((pair) => ({ ...pair, exists: marks.has(pair.target) })));
    await dropStemDatabases(client, stem).catch((err: unknown) => {
      throw inPlaceButNotDropped(serverFailure(err, params), params, pairs.map((pair) => pair.target), stem);
    });
  });
}

/** A failure after the swap committed says so: the job's error must tell that the target was replaced. */
function inPlaceButNotDropped(cause: unknown, params: ConnectionParams, targets: string[], stem: string): PgVaultError {
  const why = cause instanceof PgVaultError ? cause.detail : String(cause);
  return new PgVaultError(
    cause instanceof PgVaultError ? cause.code : "SystemErrorUnexpected",
    `The restore is in place as ${targets.map((name) => `'${name}'`).join(", ")} on ${params.host}:${params.port}, but dropping the database it replaced (or another attempt's, '${stem}_...') failed: ${why}`,
    { transient: cause instanceof PgVaultError ? cause.transient : true },
  );
}

/**
 * The swap's transaction: each old target (if any) to `<attempt>_old`, each attempt's database to its target name,
 * then each mark checked on what is now the target. The renames hold each database's lock until the commit, so
 * nothing changes them between that check and the commit; without every mark, nothing is renamed.
 */
async function renameIntoPlace(client: pg.Client, pairs: readonly (SwapPair & { exists: boolean })[]): Promise<void> {
  // A session that reconnects between the termination and the rename makes the rename fail (55006): try again.
  for (let attempt = 1; ; attempt++) {
    for (const pair of pairs) if (pair.exists) await terminateSessions(client, pair.target);
    await client.query("BEGIN");
    try {
      for (const { target, restored, exists } of pairs) {
        if (exists) await client.query(`ALTER DATABASE ${ident(target)} RENAME TO ${ident(`${restored.database}_old`)}`);
        await client.query(`ALTER DATABASE ${ident(restored.database)} RENAME TO ${ident(target)}`);
        if ((await markOf(client, target)) !== restored.mark) {
          throw new PgVaultError("SystemErrorUnexpected", `The database '${restored.database}' is not marked as this attempt's complete restore; nothing was swapped and '${target}' is as it was.`);
        }
      }
      await client.query("COMMIT");
      return;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      if ((err as { code?: string }).code !== "55006" || attempt === 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
