/** What GET /backupInstances answers: the stored instance plus its last backup and next scheduled slot. */
import { getPolicy } from "./catalog/catalog";
import { listRecoveryPoints } from "./catalog/recoveryPointReads";
import type { BackupInstance, BackupPolicy } from "./domain";
import { nextSlot } from "./time/schedule";

export interface InstanceView extends BackupInstance {
  lastBackup: { time: string; recoveryPointId: string; sizeBytes: number } | null;
  nextScheduledBackup: string | null;
}

/** The next slot of the instance's policy after `now`; none while protection is stopped or the policy is missing. */
export function nextScheduledBackup(instance: BackupInstance, policy: BackupPolicy | undefined, now: Date): string | null {
  const next = instance.protectionState === "ProtectionConfigured" && policy ? nextSlot(policy.schedule, now) : undefined;
  return next ? next.toISOString() : null;
}

export async function instanceView(instance: BackupInstance, now: Date): Promise<InstanceView> {
  const [policy, recoveryPoints] = await Promise.all([getPolicy(instance.policyName), listRecoveryPoints(instance.name)]);
  const last = recoveryPoints.find((rp) => rp.status === "Available");
  return {
    ...instance,
    lastBackup: last ? { time: last.time, recoveryPointId: last.id, sizeBytes: last.sizeBytes } : null,
    nextScheduledBackup: nextScheduledBackup(instance, policy, now),
  };
}
