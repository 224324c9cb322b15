import type { InvocationContext } from "@azure/functions";
import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { changeRecoveryPoint } from "../shared/catalog/catalog";
import { getRecoveryPoint } from "../shared/catalog/recoveryPointReads";
import { getConfig } from "../shared/config";
import { immutabilityRefusalMessages, policyModeOf, type ImmutabilityRefusal } from "../shared/recoveryPoints/immutability";
import { jobLog } from "../shared/jobs/jobLog";
import { makeImmutable } from "../shared/recoveryPoints/recoveryPointImmutability";

export interface ProtectRecoveryPointInput {
  jobId: string;
  instanceName: string;
  recoveryPointId: string;
  /** The orchestrator's time (ISO 8601): a point that has already expired is not protected. */
  now: string;
}

export interface RecoveryPointProtection {
  /** Set when every blob of the point is immutable until then (its `expiresAt`). */
  immutableUntil?: string;
  /** Why it is not: the setting, the vault, or a point already expired or gone. */
  notImmutable?: "off" | "expired" | "gone" | ImmutabilityRefusal;
}

/** Each refusal is written once per process: it holds for every backup until the vault or the role changes. */
const refusalsSaid = new Set<ImmutabilityRefusal>();

/**
 * Makes a recorded recovery point immutable until it expires (VAULT_IMMUTABILITY), then notes `immutableUntil`
 * and the mode on its row. A vault that cannot hold it immutable is logged, not failed: the backup is good either way.
 */
export async function protectRecoveryPointActivity(
  input: ProtectRecoveryPointInput,
  context: InvocationContext,
): Promise<ActivityOutcome<RecoveryPointProtection>> {
  const log = jobLog(context, { jobId: input.jobId, instanceName: input.instanceName, operation: "Backup" });
  return asOutcome(async (): Promise<RecoveryPointProtection> => {
    const setting = getConfig().vaultImmutability;
    if (setting === "off") return { notImmutable: "off" };
    const rp = await getRecoveryPoint(input.instanceName, input.recoveryPointId);
    if (rp?.status !== "Available") return { notImmutable: "gone" };
    const result = await makeImmutable(rp, policyModeOf(setting), new Date(input.now));
    if (result.kind === "expired") return { notImmutable: "expired" };
    if (result.kind !== "immutable") {
      if (!refusalsSaid.has(result.kind)) {
        refusalsSaid.add(result.kind);
        log.warn(`recovery point ${rp.id} is not immutable (HTTP ${result.status ?? "?"} ${result.code ?? ""}): ${immutabilityRefusalMessages[result.kind]} (said once per process)`);
      }
      return { notImmutable: result.kind };
    }
    await changeRecoveryPoint(rp.instanceName, rp.id, (stored) => ({ ...stored, immutableUntil: result.until, immutabilityMode: result.mode }));
    log.info(`recovery point ${rp.id} is immutable (${result.mode}) until ${result.until}`);
    return { immutableUntil: result.until };
  });
}

export const protectRecoveryPointStep = df.app.activity("protectRecoveryPoint", { handler: protectRecoveryPointActivity });
