import * as df from "durable-functions";
import { getInstance, getPolicy, listRecoveryPoints, putRecoveryPoint } from "../shared/catalog";
import type { RecoveryPoint, RetentionTag } from "../shared/domain";
import { PgVaultError } from "../shared/errors";
import { decideRetention } from "../shared/retentionTagging";

export interface RecordRecoveryPointInput {
  instanceName: string;
  recoveryPointId: string;
  time: string;
  retentionTag?: RetentionTag;
  blobPath: string;
  sizeBytes: number;
  sha256: string;
  serverVersion: string;
  toolVersion: string;
}

/**
 * Writes the recovery point row, tagged and with its expiry decided now from the instance's current policy
 * (SPEC section 3). Runs only after the blob is committed; rewriting the same id is harmless, so retries are safe.
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
    id: input.recoveryPointId,
    instanceName: input.instanceName,
    time: input.time,
    tag,
    expiresAt,
    status: "Available",
    sizeBytes: input.sizeBytes,
    sha256: input.sha256,
    format: "pg_dump-custom",
    serverVersion: input.serverVersion,
    toolVersion: input.toolVersion,
    blobs: [input.blobPath],
  };
  await putRecoveryPoint(rp);
  return rp;
}

export const recordRecoveryPointStep = df.app.activity("recordRecoveryPoint", { handler: recordRecoveryPointActivity });
