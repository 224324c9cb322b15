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

/** Each policy's RPO as of `now`, derived once per policy: a derivation takes about a millisecond (two years of the zone's offsets). */
export function rpoOncePerPolicy(now: Date): (policy: BackupPolicy) => Rpo {
  const derived = new Map<string, Rpo>();
  return (policy) => {
    const rpo = derived.get(policy.name) ?? policyRpo(policy, now);
    derived.set(policy.name, rpo);
    return rpo;
  };
}

/** `rpoOf`: shared by the views of one answer (a list of instances). */
export async function instanceView(instance: BackupInstance, now: Date, rpoOf = rpoOncePerPolicy(now)): Promise<InstanceView> {
  const [policy, recoveryPoints] = await Promise.all([getPolicy(instance.policyName), listRecoveryPoints(instance.name)]);
  const last = recoveryPoints.find((rp) => rp.status === "Available");
  const rpo = policy && rpoOf(policy);
  return {
    ...instance,
    lastBackup: last ? { time: last.time, recoveryPointId: last.id, sizeBytes: last.sizeBytes } : null,
    nextScheduledBackup: nextScheduledBackup(instance, policy, now),
    health: protectedInstanceHealth(instance, rpo, newestAvailablePoint(recoveryPoints)?.time ?? null, now),
  };
}
