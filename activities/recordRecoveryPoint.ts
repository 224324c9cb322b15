import * as df from "durable-functions";
import { getInstance, getPolicy, listRecoveryPoints, putRecoveryPoint, removeRecoveryPoint } from "../shared/catalog";
import type { DumpRecoveryPoint, LtrRecoveryPoint, RecoveryPoint, RetentionTag } from "../shared/domain";
import { PgVaultError } from "../shared/errors";
import { undoIfCancelled } from "../shared/jobCancellation";
import { decideRetention } from "../shared/retentionTagging";

/** The fields decided here; the rest is what the backup produced. */
type Decided = "id" | "instanceName" | "time" | "tag" | "expiresAt" | "status";
export type RecoveryPointContent = Omit<DumpRecoveryPoint, Decided> | Omit<LtrRecoveryPoint, Decided>;

export interface RecordRecoveryPointInput {
  jobId: string;
  instanceName: string;
  recoveryPointId: string;
  time: string;
  retentionTag?: RetentionTag;
  content: RecoveryPointContent;
}

/**
 * Writes the recovery point row, tagged and with its expiry decided now from the instance's current policy
 * (SPEC section 3). Runs only after the backup's data is complete in the vault; rewriting the same id is harmless, so retries are safe.
 */
export async function recordRecoveryPointActivity(input: RecordRecoveryPointInput): Promise<RecoveryPoint> {
  const instance = await getInstance(input.instanceName);
  const policy = instance && (await getPolicy(instance.policyName));
  if (!policy) {
    throw new PgVaultError("SystemErrorUnexpected", `Instance '${input.instanceName}' or its policy disappeared during the backup.`);
  }
  const earlier = (await listRecoveryPoints(input.instanceName)).filter((rp) => rp.id !== input.recoveryPointId);
  const time = new Date(input.time);
  const { tag, expiresAt } = decideRetention(policy, time, earlier.map((rp) => new Date(rp.time)), input.retentionTag);
  const rp: RecoveryPoint = {
    ...input.content,
    id: input.recoveryPointId,
    instanceName: input.instanceName,
    time: input.time,
    tag,
    expiresAt,
    status: "Available",
  };
  await putRecoveryPoint(rp);
  await undoIfCancelled(input.jobId, () => removeRecoveryPoint(rp.instanceName, rp.id));
  return rp;
}

export const recordRecoveryPointStep = df.app.activity("recordRecoveryPoint", { handler: recordRecoveryPointActivity });
