/**
 * Recovery-point objectives (issue 26). An instance's RPO is its policy's `rpo` or, without one, the longest time
 * its schedule can leave between two backups plus a grace (`rpoGrace`, default one hour) for the backup to run.
 * Its health says how much of that has passed since its newest Available recovery point: `Healthy`, `AtRisk` once
 * over 80%, `Breached` once over all of it. It is a matter of points, not jobs: a stopped scheduler, a policy whose
 * slots never come and a server that keeps failing all show the same way.
 */
import type { BackupInstance, BackupPolicy } from "../domain";
import { addDuration, formatTimeDuration, parseDuration, parseTimeDuration } from "../time/isoDuration";
import { longestSlotGapMs } from "../time/schedule";

export const defaultRpoGraceMs = 3_600_000;
/** Past this share of the RPO an instance is at risk. */
export const atRiskShare = 0.8;

export type RpoState = "Healthy" | "AtRisk" | "Breached";

export interface Rpo {
  /** As the policy says it, or the derived one as hours and minutes (`PT26H`). */
  text: string;
  /** Whether the policy set it (`rpo`) or it comes from the schedule. */
  derived: boolean;
  /** When a point taken at `since` is too old. */
  deadline(since: Date): Date;
}

/** The schedule's longest gap plus the grace: what the policy can promise without an `rpo` of its own. */
export function derivedRpoMs(policy: Pick<BackupPolicy, "schedule" | "rpoGrace">, at: Date): number {
  const grace = policy.rpoGrace === undefined ? defaultRpoGraceMs : parseTimeDuration(policy.rpoGrace);
  // Policies are validated before they are stored: an unreadable grace here is a bug, not bad input.
  if (grace === undefined) throw new Error(`invalid rpoGrace '${policy.rpoGrace}'`);
  return longestSlotGapMs(policy.schedule, at) + grace;
}

/** The policy's RPO as of `at` (the derived one accounts for the zone's offset changes in the next two years). */
export function policyRpo(policy: BackupPolicy, at: Date): Rpo {
  if (policy.rpo !== undefined) {
    const duration = parseDuration(policy.rpo);
    if (!duration) throw new Error(`invalid rpo '${policy.rpo}'`);
    return { text: policy.rpo, derived: false, deadline: (since) => addDuration(since, duration) };
  }
  const ms = derivedRpoMs(policy, at);
  return { text: formatTimeDuration(ms), derived: true, deadline: (since) => new Date(since.getTime() + ms) };
}

export interface InstanceHealth {
  state: RpoState;
  rpo: string;
  /** The newest Available point and its age; null when there is none (the RPO then counts from `since`). */
  newestPoint: { time: string; ageSeconds: number } | null;
  /** What the RPO counts from: the newest Available point, or when protection began. */
  since: string;
  /** When the RPO is (or was) breached without a newer point. */
  breachAt: string;
}

/**
 * An instance's health at `now`, from its newest Available point's time (null: none yet) or, without one, from
 * `protectedSince` (the instance's creation: a new instance owes its first point within one RPO).
 */
export function instanceHealth(rpo: Rpo, newestAvailable: string | null, protectedSince: string, now: Date): InstanceHealth {
  const since = new Date(newestAvailable ?? protectedSince);
  const deadline = rpo.deadline(since);
  const [elapsed, span] = [now.getTime() - since.getTime(), deadline.getTime() - since.getTime()];
  const state: RpoState = elapsed > span ? "Breached" : elapsed > atRiskShare * span ? "AtRisk" : "Healthy";
  return {
    state,
    rpo: rpo.text,
    newestPoint: newestAvailable === null ? null : { time: newestAvailable, ageSeconds: Math.max(0, Math.floor(elapsed / 1000)) },
    since: since.toISOString(),
    breachAt: deadline.toISOString(),
  };
}

/** Each policy's RPO as of `at`, by name: derived once per policy, not once per instance (a derivation reads two years of offsets). */
export function rposByPolicy(policies: readonly BackupPolicy[], at: Date): Map<string, Rpo> {
  return new Map(policies.map((policy) => [policy.name, policyRpo(policy, at)]));
}

/**
 * The health an instance owes at `now`; null when it owes none: protection stopped (no backups are taken, so no
 * RPO is owed) or its policy missing (`rpo` undefined). The RPO counts from the instance's creation until its first point.
 */
export function protectedInstanceHealth(instance: BackupInstance, rpo: Rpo | undefined, newestAvailable: string | null, now: Date): InstanceHealth | null {
  if (instance.protectionState !== "ProtectionConfigured" || !rpo) return null;
  return instanceHealth(rpo, newestAvailable, instance.createdAt, now);
}
