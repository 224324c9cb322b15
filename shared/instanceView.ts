/** What GET /backupInstances answers: the stored instance plus its last backup and next scheduled slot. */
import { getPolicy, listRecoveryPoints } from "./catalog";
import type { BackupInstance } from "./domain";
import { nextSlot } from "./schedule";

export interface InstanceView extends BackupInstance {
  lastBackup: { time: string; recoveryPointId: string; sizeBytes: number } | null;
  nextScheduledBackup: string | null;
}

export async function instanceView(instance: BackupInstance, now: Date): Promise<InstanceView> {
  const [policy, recoveryPoints] = await Promise.all([getPolicy(instance.policyName), listRecoveryPoints(instance.name)]);
  const last = recoveryPoints.find((rp) => rp.status === "Available");
  const next = instance.protectionState === "ProtectionConfigured" && policy ? nextSlot(policy.schedule, now) : undefined;
  return {
    ...instance,
    lastBackup: last ? { time: last.time, recoveryPointId: last.id, sizeBytes: last.sizeBytes } : null,
    nextScheduledBackup: next ? next.toISOString() : null,
  };
}
