/**
 * What the backup orchestration and each datasource's backup steps (databaseBackup.ts, flexServerBackup.ts) hand
 * each other: its own module, so the steps need not import the orchestration that calls them.
 */
import type { BackupLocation } from "../activities/recordRecoveryPoint";
import type { UpdateJobInput } from "../activities/updateJob";

export type JobStart = UpdateJobInput["update"];

/**
 * What a datasource's backup steps hand over once its data is complete in the vault: where it is, by reference
 * (the record step reads the rest from there), and its size for the job row.
 */
export interface TakenBackup {
  recoveryPointId: string;
  time: Date;
  sizeBytes: number;
  backup: BackupLocation;
}
