/**
 * Byte-count progress of a running job, written to its row at most every few seconds. Best effort: a lost
 * update must not fail the backup or restore that reports it.
 */
import { updateJob } from "../catalog/jobRows";
import type { JobLog } from "./jobLog";

const progressIntervalMs = 5_000;

export interface JobProgress {
  report(bytes: number): void;
  /** Waits for the last write, so the final state is not overtaken by a late progress update. */
  flush(): Promise<void>;
}

export function jobProgress(jobId: string, log: JobLog): JobProgress {
  let lastReport = Date.now();
  let pending: Promise<void> = Promise.resolve();
  return {
    report(bytes) {
      if (Date.now() - lastReport < progressIntervalMs) return;
      lastReport = Date.now();
      pending = updateJob(jobId, { bytes }).catch(() => log.warn("could not record progress"));
    },
    flush: () => pending,
  };
}
