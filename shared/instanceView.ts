/** What GET /backupInstances answers: the stored instance plus its last backup, next scheduled slot and RPO health. */
import { getPolicy } from "./catalog/catalog";
import { listRecoveryPoints } from "./catalog/recoveryPointReads";
import { newestAvailablePoint, type BackupInstance, type BackupPolicy } from "./domain";
import { policyRpo, protectedInstanceHealth, type InstanceHealth } from "./rpo/rpo";
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

export async function instanceView(instance: BackupInstance, now: Date): Promise<InstanceView> {
  const [policy, recoveryPoints] = await Promise.all([getPolicy(instance.policyName), listRecoveryPoints(instance.name)]);
  const last = recoveryPoints.find((rp) => rp.status === "Available");
  const rpo = policy && policyRpo(policy, now);
  return {
    ...instance,
    lastBackup: last ? { time: last.time, recoveryPointId: last.id, sizeBytes: last.sizeBytes } : null,
    nextScheduledBackup: nextScheduledBackup(instance, policy, now),
    health: protectedInstanceHealth(instance, rpo, newestAvailablePoint(recoveryPoints)?.time ?? null, now),
  };
}
