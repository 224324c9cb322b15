import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { getConfig } from "../shared/config";
import { containerWriteSasUrls } from "../shared/flexServer/ltrContainers";
import { startLtrBackup } from "../shared/flexServer/ltrBackup";
import { jobLog } from "../shared/jobs/jobLog";

export interface StartLtrBackupInput {
  jobId: string;
  instanceName: string;
  resourceId: string;
  backupName: string;
  containers: string[];
}

export interface StartedLtrBackup {
  /** ISO time after which the orchestration stops waiting (FLEX_BACKUP_TIMEOUT from now). */
  deadline: string;
  /** ISO time the start was sent: the operation resource may 404 for a while after it (pollLtrBackup). */
  startedAt: string;
}

/** Margin of the SAS beyond the deadline, so a backup finishing right at it can still write its last bytes. */
const sasMarginMs = 30 * 60_000;

/**
 * Issues the containers' SAS URLs and starts the server's backup with them. The URLs live only inside this
 * call; the result holds the deadline, which the orchestration's polling honours.
 */
export async function startLtrBackupActivity(input: StartLtrBackupInput, context: InvocationContext): Promise<ActivityOutcome<StartedLtrBackup>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Backup" });
  return asOutcome(async () => {
    const timeoutMs = getConfig().flexBackupTimeoutMs;
    const startedAt = new Date();
    const deadline = new Date(startedAt.getTime() + timeoutMs);
    const sasUrls = await containerWriteSasUrls(input.containers, new Date(deadline.getTime() + sasMarginMs));
    const outcome = await startLtrBackup(input.resourceId, input.backupName, sasUrls);
    log.info(`long-term-retention backup ${input.backupName} ${outcome === "started" ? "started" : "was already started"} into ${input.containers.length} containers`);
    return { deadline: deadline.toISOString(), startedAt: startedAt.toISOString() };
  });
}

export const startLtrBackupStep = df.app.activity("startLtrBackup", { handler: startLtrBackupActivity });
