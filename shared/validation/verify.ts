import { IssueCollector } from "./issues";

export interface VerifyRequest {
  /** Absent: the instance's latest Available recovery point. */
  recoveryPointId?: string;
}

const recoveryPointIdPattern = /^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

/** Validates a POST /backupInstances/{name}/verify body: none, or `{ "recoveryPointId" }`. */
export function parseVerifyRequest(body: unknown): VerifyRequest {
  if (body === undefined) return {};
  const issues = new IssueCollector();
  const root = issues.object(body, "", ["recoveryPointId"]);
  const recoveryPointId = issues.string(root.recoveryPointId, "recoveryPointId", { optional: true });
  if (recoveryPointId !== undefined && !recoveryPointIdPattern.test(recoveryPointId)) {
    issues.add("recoveryPointId", "must look like rp-YYYYMMDDTHHMMSSZ-<8 hex>");
  }
  issues.throwIfAny();
  return recoveryPointId === undefined ? {} : { recoveryPointId };
}
