/**
 * What crashes and outages can leave behind, found and settled by the daily retention run (docs/architecture.md,
 * "Failure handling and reconciliation"):
 *
 * - **Stuck jobs**: a job row still `Queued` or `InProgress` whose orchestration has ended (its last job update
 *   could not be written, say the vault was down; or it was terminated outside POST /jobs/{id}/cancel) or does not
 *   exist (never started because the start after the row was lost, or purged). It is marked `Failed`, with the
 *   code of the orchestration's own failure when it names one, else `SystemErrorUnexpected`, and a message saying
 *   the orchestration ended without finishing the job. A job whose orchestration (or, once cancelled, its cancel
 *   cleanup) still runs is left alone; a missing orchestration only counts once the job is an hour old, since a
 *   job row is written just before its orchestration is started.
 * - **Orphan dumps**: a folder `backups/{instance}/{rpId}/` without a recovery point row (the row write failed
 *   after the blob was committed; a dump went on after its orchestration was terminated; a cancel's cleanup could
 *   not finish). Deleted once it is a day old (by its point's time and its newest blob) and no unfinished job
 *   names that point. A blob the vault still holds immutable is kept and tried again at the next run. Blocks
 *   that were never committed are deleted where the service allows it (Azurite does); where it answers 404 (a
 *   blob without a committed block list does not exist for Delete Blob), the service itself discards them seven
 *   days after their last upload.
 * - **Points never recorded complete**: a row still marked `recording` (shared/backup/pointRecording.ts) whose
 *   folder is a day old and whose job is no longer unfinished (its record step failed between its two writes, and
 *   the job ended): the backup failed, so its row goes (only while still unrecorded, under its etag), then its
 *   folder as an orphan.
 *
 * A point recorded complete, in any status, is retention's business, never touched here. Nothing is deleted when
 * the rows of its instance cannot be read.
 *
 * Last, with the summaries just counted again, the fleet's RPO health is evaluated as the scheduler tick does
 * (shared/rpo/healthStates.ts): a breach shows even on a day no tick ran.
 */
import { removeUnrecordedPoint } from "../backup/pointRecording";
import { listInstances } from "../catalog/catalog";
import { readInstanceSummaries, refreshInstanceSummary, removeSummariesExcept } from "../catalog/instanceSummaries";
import { jobIndexBackfilled } from "../catalog/jobIndexState";
import { checkedFrom, summariesDue } from "../catalog/summaryRepair";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import { scanInOrder } from "../orderedScan";
import { listJobs } from "../catalog/jobLists";
import { settleCopy, updateJob } from "../catalog/jobRows";
import { backupContainer, finishedJobStatuses, isRecorded, type Job, type RecoveryPoint } from "../domain";
import { activeRuntimeStatuses } from "../durableInstances";
import { ensureError, errorCatalog, jobErrorFromFailure, PgVaultError, type JobError } from "../errors";
import { isImmutableBlobRefusal } from "../recoveryPoints/immutability";
import { evaluateFleetHealth, type HealthEventSink } from "../rpo/healthStates";
import type { RpoState } from "../rpo/rpo";
import { isoSeconds } from "../time/isoTime";
import { statusOf, storageFailure } from "../storageErrors";
import { getBackupContainer } from "../catalog/vaultClients";

/** How old a dump folder without a row must be before it is deleted: longer than any backup step takes to record it. */
export const orphanMinAgeMs = 24 * 3_600_000;
/** How old a job must be before a missing orchestration means it will never run. */
export const missingOrchestrationGraceMs = 3_600_000;

/** An orchestration as the durable client reports it; `undefined`: no such instance. */
export type OrchestrationState = { runtimeStatus: string; output?: unknown } | undefined;

export interface ReconcileOptions {
  /** The run's time (the orchestrator's): ages are measured against it. */
  now: Date;
  /** The reconciling job itself, which is running and never touched. */
  selfJobId: string;
  /** How the durable client sees an orchestration; without one, stuck jobs are not judged (nothing is known). */
  orchestration?: (instanceId: string) => Promise<OrchestrationState>;
  /** The instance id of the cleanup orchestration that a cancel of `jobId` starts. */
  cancelCleanupId(jobId: string): string;
  /** Where the RPO health's events go; without it they are only counted. */
  emitHealthEvents?: HealthEventSink;
}

export interface ReconcileReport {
  /** Jobs marked `Failed` because their orchestration ended (or vanished) without finishing them. */
  jobsFailed: string[];
  /** `instance/rpId` folders without a row, deleted. */
  orphansDeleted: string[];
  /** Orphan folders the vault still holds immutable: kept, tried again at the next run. */
  orphansKept: string[];
  /** Orphan folders of blocks never committed that the service would not delete: it discards them itself after 7 days. */
  uncommittedLeft: string[];
  /** Instance summaries checked, those counted again (catalog/summaryRepair.ts), and those of deleted instances removed. */
  summariesChecked: number;
  summariesCounted: number;
  summariesRemoved: number;
  /** Instances that owe an RPO, by state at `now`, and the events of their changes (shared/rpo/healthStates.ts); null: not evaluated. */
  health: { states: Record<RpoState, number>; events: number } | null;
  failed: { item: string; error: JobError }[];
}

const folderPattern = /^([a-z0-9][a-z0-9-]{2,62})\/(rp-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[0-9a-f]{8})\/./;

export async function reconcileVault(options: ReconcileOptions): Promise<ReconcileReport> {
  const report: ReconcileReport = { jobsFailed: [], orphansDeleted: [], orphansKept: [], uncommittedLeft: [], summariesChecked: 0, summariesCounted: 0, summariesRemoved: 0, health: null, failed: [] };
  await failStuckJobs(options, report);
  await removeOrphanDumps(options, report);
  await recountSummaries(options, report);
  await evaluateHealth(options, report);
  return report;
}

/** The RPO health at the run's time; a failure is reported, the rest of the run stands. */
async function evaluateHealth(options: ReconcileOptions, report: ReconcileReport): Promise<void> {
  try {
    const health = await evaluateFleetHealth(options.now, options.emitHealthEvents);
    report.health = { states: health.states, events: health.events.length };
    for (const { instanceName, error } of health.failed) report.failed.push({ item: `the health of ${instanceName}`, error });
  } catch (err) {
    report.failed.push({ item: "the instances' health", error: failureOf(err, "evaluating the instances' health") });
  }
}

/**
 * The repair of the Backup Center's summaries (catalog/instanceSummaries.ts): the summaries the check of
 * catalog/summaryRepair.ts finds due are counted again, a few at a time, and those of deleted instances removed.
 * What a failed refresh or a crash between a change and its summary left behind is right again after this (a job's
 * change of the last two days the next night, anything else within a week).
 */
async function recountSummaries(options: ReconcileOptions, report: ReconcileReport): Promise<void> {
  // No summaries are kept until the job index is complete (catalog/instanceSummaries.ts).
  if (!(await jobIndexBackfilled())) return;
  const [instances, summaries, recentJobs] = await Promise.all([listInstances(), readInstanceSummaries(), listJobs({ from: checkedFrom(options.now) })]);
  const due = summariesDue(instances.map((instance) => instance.name), summaries, recentJobs, options.now);
  report.summariesChecked = instances.length;
  await scanInOrder([...due.keys()], 8, async (name) => {
    try {
      await refreshInstanceSummary(name, options.now);
      report.summariesCounted++;
    } catch (err) {
      report.failed.push({ item: `the summary of ${name}`, error: failureOf(err, `counting the summary of ${name}`) });
    }
  }, () => "more");
  report.summariesRemoved = await removeSummariesExcept(summaries, new Set(instances.map((instance) => instance.name)));
}

/**
 * The jobs whose rows say InProgress or Queued, found through those statuses' copies (a few, whatever the
 * history); each copy is checked against its row, and one left behind by a crashed write is repaired on the way.
 */
async function unfinishedJobs(): Promise<Job[]> {
  const copies = [...(await listJobs({ status: "InProgress" })), ...(await listJobs({ status: "Queued" }))];
  const jobs: Job[] = [];
  for (const copy of copies) {
    const job = await settleCopy(copy);
    if (job && !finishedJobStatuses.includes(job.status)) jobs.push(job);
  }
  return jobs;
}

async function failStuckJobs(options: ReconcileOptions, report: ReconcileReport): Promise<void> {
  const orchestration = options.orchestration;
  if (!orchestration) return;
  for (const job of await unfinishedJobs()) {
    if (job.id === options.selfJobId) continue;
    try {
      const error = await whyStuck(job, orchestration, options);
      if (!error) continue;
      // A finished row is never changed again, so a job that ended meanwhile keeps its own end.
      await updateJob(job.id, { status: "Failed", endTime: isoSeconds(options.now), error });
      report.jobsFailed.push(job.id);
    } catch (err) {
      report.failed.push({ item: `job ${job.id}`, error: failureOf(err, `settling job ${job.id}`) });
    }
  }
}

/** The error to fail a stuck job with, or `undefined` when it may still finish by itself. */
async function whyStuck(
  job: Job,
  orchestration: (instanceId: string) => Promise<OrchestrationState>,
  options: ReconcileOptions,
): Promise<JobError | undefined> {
  if (job.cancelRequested) {
    const cleanup = await orchestration(options.cancelCleanupId(job.id));
    if (cleanup && activeRuntimeStatuses.includes(cleanup.runtimeStatus)) return undefined;
  }
  const state = await orchestration(job.id);
  if (state && activeRuntimeStatuses.includes(state.runtimeStatus)) return undefined;
  if (!state && options.now.getTime() - Date.parse(job.startTime) < missingOrchestrationGraceMs) return undefined;
  // Our orchestrations fail with `<code>: <message>` (secret-free by construction): the job gets that cause.
  const output = state?.runtimeStatus === "Failed" && typeof state.output === "string" ? state.output : "";
  const cause = /\b(UserError|SystemError)[A-Za-z]+: /.test(output) ? jobErrorFromFailure(new Error(output)) : undefined;
  const code = cause?.code ?? "SystemErrorUnexpected";
  const ended = state
    ? `The job's orchestration ended (${state.runtimeStatus}) without finishing the job`
    : "The job's orchestration does not exist (it never started, or was purged): it ended without finishing the job";
  const message = `${ended}${cause ? `: ${cause.message}` : "."}`;
  return { code, message: message.slice(0, 1000), recommendedAction: errorCatalog[code].recommendedAction };
}

interface OrphanFolder {
  instanceName: string;
  recoveryPointId: string;
  /** The later of the point's time and its newest blob's last change. */
  newest: number;
  blobs: string[];
}

/** The dump folders of the vault, with every blob (uncommitted ones included). */
async function dumpFolders(): Promise<Map<string, OrphanFolder>> {
  const folders = new Map<string, OrphanFolder>();
  const container = getBackupContainer();
  try {
    if (!(await container.exists())) return folders;
    for await (const blob of container.listBlobsFlat({ includeUncommitedBlobs: true })) {
      const match = folderPattern.exec(blob.name);
      if (!match) continue; // not a recovery point's folder: never ours to judge
      const [, instanceName, recoveryPointId, y, mo, d, h, mi, s] = match as unknown as string[];
      const key = `${instanceName}/${recoveryPointId}`;
      const folder = folders.get(key) ?? {
        instanceName: instanceName!,
        recoveryPointId: recoveryPointId!,
        newest: Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)),
        blobs: [],
      };
      folder.newest = Math.max(folder.newest, blob.properties.lastModified?.getTime() ?? 0);
      folder.blobs.push(blob.name);
      folders.set(key, folder);
    }
  } catch (err) {
    throw storageFailure(err, `listing container '${backupContainer}'`);
  }
  return folders;
}

async function removeOrphanDumps(options: ReconcileOptions, report: ReconcileReport): Promise<void> {
  const folders = [...(await dumpFolders()).values()].filter((folder) => options.now.getTime() - folder.newest >= orphanMinAgeMs);
  if (folders.length === 0) return;
  // Read after the stuck jobs were settled: a job still unfinished now may yet record its point.
  const running = new Set((await unfinishedJobs()).map((job) => job.recoveryPointId).filter(Boolean));
  const rowsByInstance = new Map<string, Promise<Map<string, RecoveryPoint>>>();
  const rowsOf = (instanceName: string) => {
    let rows = rowsByInstance.get(instanceName);
    if (!rows) {
      rows = listRecoveryPoints(instanceName).then((points) => new Map(points.map((rp) => [rp.id, rp])));
      rowsByInstance.set(instanceName, rows);
    }
    return rows;
  };
  for (const folder of folders) {
    const item = `${folder.instanceName}/${folder.recoveryPointId}`;
    try {
      if (running.has(folder.recoveryPointId)) continue;
      const row = (await rowsOf(folder.instanceName)).get(folder.recoveryPointId);
      // A row its ended job never finished goes first, so no row is left naming deleted data.
      if (row && (isRecorded(row) || (await removeUnrecordedPoint(row.instanceName, row.id)))) continue;
      const outcome = await deleteFolder(folder);
      if (outcome === "kept") report.orphansKept.push(item);
      else if (outcome === "uncommitted") report.uncommittedLeft.push(item);
      else report.orphansDeleted.push(item);
    } catch (err) {
      report.failed.push({ item, error: failureOf(err, `deleting the orphan dump ${item}`) });
    }
  }
}

async function deleteFolder(folder: OrphanFolder): Promise<"deleted" | "kept" | "uncommitted"> {
  const container = getBackupContainer();
  let deleted = 0;
  let kept = 0;
  for (const name of folder.blobs) {
    try {
      await container.getBlobClient(name).delete({ deleteSnapshots: "include" });
      deleted++;
    } catch (err) {
      if (isImmutableBlobRefusal(err)) kept++;
      else if (statusOf(err) !== 404) throw err;
    }
  }
  return kept > 0 ? "kept" : deleted > 0 ? "deleted" : "uncommitted";
}

function failureOf(err: unknown, what: string): JobError {
  if (err instanceof PgVaultError) return err.toJobError();
  const error = ensureError(err);
  // Storage errors carry a status or a network code; anything else (the durable client) is described, not quoted.
  if (statusOf(error) !== undefined || (error as { code?: string }).code) return storageFailure(error, what).toJobError();
  return new PgVaultError("SystemErrorUnexpected", `Failed while ${what} (${error.name}); details are in the function logs.`).toJobError();
}
