/**
 * A job's phases as a timeline and its progress estimate. The job row holds only the phase it is in
 * (shared/domain.ts `JobPhase`), so the timeline is the operation's usual path (the order the orchestrators in
 * orchestrators/ enter them), with the phase the job is in put at its place when the path does not have it.
 */
import type { Job, JobOperation, JobPhase } from "../../shared/domain";

const paths: Record<JobOperation, readonly JobPhase[]> = {
  Backup: ["Queued", "ResolvingSecret", "CheckingAccess", "Uploading", "Recording", "Done"],
  Restore: ["Queued", "ResolvingSecret", "CheckingAccess", "Restoring", "Swapping", "Done"],
  Verify: ["Queued", "ResolvingSecret", "CheckingAccess", "Restoring", "Verifying", "Recording", "CleaningUp", "Done"],
  Retention: ["Queued", "CleaningUp", "Done"],
};

/** Where a phase off the usual path goes: before the phase named here (any other: before Done). */
const detours: Partial<Record<JobPhase, JobPhase>> = {
  WaitingForInstance: "ResolvingSecret",
  WaitingForSlot: "Uploading",
};

export type StepState = "done" | "current" | "failed" | "pending";

export interface TimelineStep {
  phase: JobPhase;
  state: StepState;
}

export function phaseTimeline(job: Pick<Job, "operation" | "phase" | "status">): TimelineStep[] {
  const path = [...paths[job.operation]];
  if (!path.includes(job.phase)) {
    const before = detours[job.phase] ?? "Done";
    path.splice(path.indexOf(before), 0, job.phase);
  }
  // A restore to files goes from Queued straight to Exporting (orchestrators/restore.ts).
  const steps = job.phase === "Exporting" ? ["Queued" as const, "Exporting" as const, "Done" as const] : path;
  const at = steps.indexOf(job.phase);
  return steps.map((phase, i) => ({
    phase,
    state:
      job.status === "Succeeded" || i < at
        ? "done"
        : i > at
          ? "pending"
          : job.status === "Failed" || job.status === "Cancelled"
            ? "failed"
            : "current",
  }));
}

/** Readable phase names: `CheckingAccess` → `Checking access`. */
export const phaseLabel = (phase: JobPhase) => phase.replace(/(?<=[a-z])([A-Z])/g, (letter) => ` ${letter.toLowerCase()}`);

export interface ProgressEstimate {
  /** 0-100; below 100 until the job has succeeded. */
  percent: number;
  /** Seconds left at the rate so far; undefined before any byte moved. */
  secondsLeft?: number;
}

/**
 * Progress of `bytes` out of about `totalBytes` (the point's size for restores and drills, the newest earlier
 * point's size for backups): an estimate, so a running job stays below 100%, and the time left assumes the rate
 * so far (`bytes` over the job's `durationSeconds`).
 */
export function estimateProgress(job: Pick<Job, "bytes" | "status"> & { durationSeconds: number }, totalBytes: number): ProgressEstimate {
  if (job.status === "Succeeded") return { percent: 100 };
  const percent = Math.min(99, Math.floor((100 * job.bytes) / Math.max(1, totalBytes)));
  if (job.bytes <= 0 || job.durationSeconds <= 0 || job.status !== "InProgress") return { percent };
  const rate = job.bytes / job.durationSeconds;
  return { percent, secondsLeft: Math.max(0, Math.round((totalBytes - job.bytes) / rate)) };
}

/** `about 2 min 5 s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
