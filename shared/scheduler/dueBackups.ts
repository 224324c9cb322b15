/**
 * Which backups a scheduler tick must start (SPEC section 3): for every protected instance, the
 * latest due slot of its policy, when that slot is not older than the instance itself and was not started yet.
 * After downtime this is one catch-up backup (the latest slot), never one per missed slot. Pure.
 */
import type { BackupInstance, BackupPolicy, Datasource } from "../domain";
import { latestDueSlot } from "../time/schedule";

export interface DueBackup {
  instanceName: string;
  datasource: Datasource;
  slot: Date;
  /** Deterministic per instance and slot: duplicate ticks and hosts address the same orchestration. */
  jobId: string;
}

/** `scheduled-<instance>-<YYYYMMDDTHHMMZ>`. */
export function scheduledJobId(instanceName: string, slot: Date): string {
  return `scheduled-${instanceName}-${slot.toISOString().replace(/[-:]/g, "").slice(0, 13)}Z`;
}

export function dueBackups(
  instances: readonly BackupInstance[],
  policies: ReadonlyMap<string, BackupPolicy>,
  lastStartedSlots: ReadonlyMap<string, string>,
  now: Date,
): DueBackup[] {
  const due: DueBackup[] = [];
  // The slot depends only on the policy: computed once per policy, not per instance (zone lookups are costly).
  const slots = new Map<BackupPolicy, Date | undefined>();
  for (const instance of instances) {
    if (instance.protectionState !== "ProtectionConfigured") continue;
    const policy = policies.get(instance.policyName);
    if (!policy) continue;
    if (!slots.has(policy)) slots.set(policy, latestDueSlot(policy.schedule, now));
    const slot = slots.get(policy);
    // Slots before protection was configured are not owed: the first backup is the first slot after it.
    if (!slot || slot.getTime() < Date.parse(instance.createdAt)) continue;
    const last = lastStartedSlots.get(instance.name);
    if (last && Date.parse(last) >= slot.getTime()) continue;
    due.push({ instanceName: instance.name, datasource: instance.datasource, slot, jobId: scheduledJobId(instance.name, slot) });
  }
  return due;
}
