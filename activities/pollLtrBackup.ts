import * as df from "durable-functions";
import { asOutcome, type ActivityOutcome } from "../shared/activityOutcome";
import { listWrittenLtrFiles } from "../shared/flexServer/ltrContainers";
import { ltrBackupStatus } from "../shared/flexServer/ltrBackup";

export interface PollLtrBackupInput {
  resourceId: string;
  backupName: string;
  containers: string[];
  /** When the start was accepted (ISO): a 404 soon after it is "not visible yet", not "gone". */
  startedAt: string;
}

/**
 * Where the backup is. Once it succeeded: how many files it wrote and their bytes, never the files themselves
 * (there may be thousands, and activity results are stored in the history); the record step lists them.
 */
export type LtrPoll = { status: "Running"; percentComplete: number; bytes: number } | { status: "Succeeded"; fileCount: number; bytes: number };

/** One look at the backup; once it succeeded, also whether it wrote anything into the containers. */
export function pollLtrBackupActivity(input: PollLtrBackupInput): Promise<ActivityOutcome<LtrPoll>> {
  return asOutcome(async (): Promise<LtrPoll> => {
    const state = await ltrBackupStatus(input.resourceId, input.backupName, new Date(input.startedAt));
    if (state.status === "Running") return state;
    // A success that wrote nothing fails here, inside the orchestration's cleanup scope: its containers go.
    const files = await listWrittenLtrFiles(input.backupName, input.containers);
    return { status: "Succeeded", fileCount: files.length, bytes: files.reduce((sum, file) => sum + file.sizeBytes, 0) };
  });
}

export const pollLtrBackupStep = df.app.activity("pollLtrBackup", { handler: pollLtrBackupActivity });
