/** What GET /backupInstances answers: the stored instance plus its last backup, next scheduled slot and RPO health. */
import { getPolicy } from "./catalog/catalog";
import { listRecoveryPoints } from "./catalog/recoveryPointReads";
import { newestAvailablePoint, type BackupInstance, type BackupPolicy } from "./domain";
import { policyRpo, protectedInstanceHealth, type InstanceHealth, type Rpo } from "./rpo/rpo";
import { nextSlot } from "./time/schedule";

export interface InstanceView extends BackupInstance {
  lastBackup: { time: string; recoveryPointId: string; sizeBytes: number } | null;
  nextScheduledBackup: string | null;
  /** Against the policy's RPO at the time of the answer; null while protection is stopped or the policy is missing. */
  health: InstanceHealth | null;
}

/** The next slot of the instance's policy after `now`; none while protection is stopped or the policy is missing. */
export function nextScheduledBackup(instance: BackupInstance, policy: BackupPolicy | undefined, now: Date): string | null {
  const next = instance.protectionState === "ProtectionConfigured" && policy ? nextSlot(policy.schedule, now) : undefined;
  return next ? next.toISOString() : null;
}

/**
 * `policies`: the catalog's policies with their RPOs (`rposByPolicy`), read once for a list of views; without it,
 * the instance's own policy is read.
 */
export async function instanceView(instance: BackupInstance, now: Date, policies?: { byName: ReadonlyMap<string, BackupPolicy>; rpos: ReadonlyMap<string, Rpo> }): Promise<InstanceView> {
  const [policy, recoveryPoints] = await Promise.all([policies ? policies.byName.get(instance.policyName) : getPolicy(instance.policyName), listRecoveryPoints(instance.name)]);
  const last = recoveryPoints.find((rp) => rp.status === "Available");
  const rpo = policy && (policies?.rpos.get(policy.name) ?? policyRpo(policy, now));
  return {
    ...instance,
    lastBackup: last ? { time: last.time, recoveryPointId: last.id, sizeBytes: last.sizeBytes } : null,
    nextScheduledBackup: nextScheduledBackup(instance, policy, now),
    health: protectedInstanceHealth(instance, rpo, newestAvailablePoint(recoveryPoints)?.time ?? null, now),
  };
}
