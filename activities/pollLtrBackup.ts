import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import type { LtrBackupDetails } from "../shared/domain";
import { PgVaultError } from "../shared/errors";
import { listLtrFiles, type LtrFile } from "../shared/flexServer/ltrContainers";
import { ltrBackupStatus } from "../shared/flexServer/ltrBackup";

export interface PollLtrBackupInput {
  resourceId: string;
  backupName: string;
  containers: string[];
}

export type LtrPoll =
  | { status: "Running"; percentComplete: number; bytes: number }
  | { status: "Succeeded"; details: LtrBackupDetails; files: LtrFile[] };

/** One look at the backup; once it succeeded, also what it wrote into the containers. */
export function pollLtrBackupActivity(input: PollLtrBackupInput): Promise<ActivityOutcome<LtrPoll>> {
  return asOutcome(async (): Promise<LtrPoll> => {
    const state = await ltrBackupStatus(input.resourceId, input.backupName);
    if (state.status === "Running") return state;
    const files = await listLtrFiles(input.containers);
    // A point over empty containers could never be restored: better a failed job now than a surprise later.
    if (files.length === 0) {
      throw new PgVaultError("SystemErrorUnexpected", `The long-term-retention backup '${input.backupName}' reported success but wrote no files.`);
    }
    return { ...state, files };
  });
}

export const pollLtrBackupStep = df.app.activity("pollLtrBackup", { handler: pollLtrBackupActivity });
