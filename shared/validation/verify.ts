import { recoveryPointIdPattern } from "../recoveryPoints/recoveryPointId";
import { IssueCollector } from "./issues";

export interface VerifyRequest {
  /** Absent: the instance's latest Available recovery point. */
  recoveryPointId?: string;
}


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
