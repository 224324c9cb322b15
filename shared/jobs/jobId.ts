/** Job ids are orchestration instance ids: readable, unique, and sortable by request time within an instance. */
import { randomBytes } from "node:crypto";

export function newJobId(operation: "backup" | "restore" | "verify", instanceName: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
  return `${operation}-${instanceName}-${stamp}-${randomBytes(4).toString("hex")}`;
}

/** `cancel-<job id>`: the orchestration that cleans up after a cancel, one per job however often it is asked for. */
export const cancelJobInstanceId = (jobId: string) => `cancel-${jobId}`;
