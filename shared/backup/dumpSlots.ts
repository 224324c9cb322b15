/**
 * The cap on pg_dump processes in one worker process (MAX_CONCURRENT_DUMPS). A dump that finds no free slot does
 * not wait inside its activity (that would hold one of the host's activity slots, and the Functions timeout,
 * while doing nothing): `dumpDatabase` answers "busy" at once, with a suggested wait, and the orchestration waits
 * on a durable timer before it asks again. Slots are counted per process: with FUNCTIONS_WORKER_PROCESS_COUNT
 * above 1 an instance runs up to that many times the cap, and every scaled-out instance has its own.
 *
 * The suggested wait spreads the waiting jobs' retries so that they come back about four times as often as a slot
 * frees: (jobs waiting x typical dump time) / (4 x cap), from 2 s to 5 min. Short dumps are picked up within
 * seconds; a queue behind hour-long dumps asks every few minutes instead of flooding the task hub (every retry is
 * a timer, an activity and two orchestrator episodes in the job's history). The typical dump time is a moving
 * average of this process's recent dumps, and at least as long as the dumps running now have been running.
 *
 * pg_restore is not counted: restores are on-demand, at most one per instance (the operation lock), and someone is
 * waiting for them; queueing one behind a night's scheduled dumps would trade recovery time for a limit that
 * restores rarely approach. The scheduled fan-out of dumps is what the cap is for.
 */
import { createHash } from "node:crypto";
import { getConfig } from "../config";

export interface DumpSlot {
  /** Gives the slot back; a second call does nothing. */
  release(): void;
}

/** What `dumpDatabase` answers when every slot is taken: nothing was started. */
export interface DumpSlotBusy {
  busy: true;
  /** Dumps running in the answering process, and its cap, for the job's log. */
  running: number;
  cap: number;
  /** How long to wait before asking again (before the per-job spread of `slotWaitMs`). */
  retryAfterMs: number;
}

const retryBounds = { minMs: 2_000, maxMs: 5 * 60_000 };
/** Before any dump finished in this process: a guess that keeps the first retries of short dumps quick. */
const initialDumpMs = 1_000;
/** A waiter not heard of for this long went elsewhere (cancelled, another instance): no longer counted. */
const waiterExpiryMs = 10 * 60_000;
/** Retries per freed slot the spread aims at. */
const retriesPerSlot = 4;

/** Start times of the dumps running in this process. */
const running = new Set<{ startedAt: number }>();
/** Jobs answered busy recently, with when they last asked. */
const waiting = new Map<string, number>();
let averageDumpMs: number | undefined;

/** A slot for `jobId`'s dump, or undefined when `cap` dumps are running in this process. Never waits. */
export function tryTakeDumpSlot(jobId: string, cap: number = getConfig().maxConcurrentDumps): DumpSlot | undefined {
  if (running.size >= cap) return undefined;
  waiting.delete(jobId);
  const entry = { startedAt: Date.now() };
  running.add(entry);
  return {
    release() {
      if (!running.delete(entry)) return;
      const ms = Date.now() - entry.startedAt;
      averageDumpMs = averageDumpMs === undefined ? ms : 0.7 * averageDumpMs + 0.3 * ms;
    },
  };
}

/** The busy answer for `jobId`, which is now counted among the waiting jobs. */
export function dumpSlotBusy(jobId: string, cap: number = getConfig().maxConcurrentDumps): DumpSlotBusy {
  const now = Date.now();
  waiting.set(jobId, now);
  for (const [job, askedAt] of waiting) if (now - askedAt > waiterExpiryMs) waiting.delete(job);
  const longestRunningMs = Math.max(0, ...[...running].map((dump) => now - dump.startedAt));
  const typicalMs = Math.max(averageDumpMs ?? initialDumpMs, longestRunningMs);
  const retryAfterMs = Math.round(Math.min(retryBounds.maxMs, Math.max(retryBounds.minMs, (waiting.size * typicalMs) / (retriesPerSlot * cap))));
  return { busy: true, running: running.size, cap, retryAfterMs };
}

export function dumpsRunning(): number {
  return running.size;
}

export function isDumpSlotBusy(value: unknown): value is DumpSlotBusy {
  return typeof value === "object" && value !== null && (value as { busy?: unknown }).busy === true;
}

/**
 * How long a job that was answered busy waits before its `attempt`-th retry (from 0): the suggested wait times a
 * factor from 0.5 to 1.5 taken from a hash of the job id and the attempt. Deterministic (the suggestion is in the
 * history, the factor a pure function), so every replay schedules the same timer; spread, so jobs refused together
 * do not all come back in the same second.
 */
export function slotWaitMs(jobId: string, attempt: number, retryAfterMs: number): number {
  const hash = createHash("sha256").update(`${jobId}#${attempt}`).digest();
  const factor = 0.5 + hash.readUInt32BE(0) / 2 ** 32;
  return Math.round(retryAfterMs * factor);
}
