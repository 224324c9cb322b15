/** Domain types of the vault catalog and the HTTP contract (SPEC sections 1-4). No SDK imports here. */
import type { JobError } from "./errors";

export type DatasourceType = "database" | "flexibleServer";
export type RetentionTag = "Default" | "Weekly" | "Monthly" | "Yearly";
export type RetentionCriteria = "FirstOfWeek" | "FirstOfMonth" | "FirstOfYear";

export const retentionTags: readonly RetentionTag[] = ["Default", "Weekly", "Monthly", "Yearly"];

/** Which criteria each non-default tag is decided by. */
export const criteriaOfTag: Record<Exclude<RetentionTag, "Default">, RetentionCriteria> = {
  Weekly: "FirstOfWeek",
  Monthly: "FirstOfMonth",
  Yearly: "FirstOfYear",
};

export interface RetentionRule {
  tag: Exclude<RetentionTag, "Default">;
  criteria: RetentionCriteria;
  duration: string;
}

export interface BackupPolicy {
  name: string;
  datasourceType: DatasourceType;
  schedule: { repeatingIntervals: string[]; timeZone: string };
  retention: { default: { duration: string }; rules: RetentionRule[] };
  /** Client-side encryption of `database` backups; absent: stored unencrypted. */
  encryption?: PolicyEncryption;
  /** How new `database` recovery points are compressed; absent: zstd at its default level. */
  compression?: PolicyCompression;
  /**
   * Scheduled restore drills; absent: drills run on request only. A `flexibleServer` instance is drilled only when
   * it names a drill server (`BackupInstance.verification`).
   */
  verification?: PolicyVerification;
  /**
   * The recovery-point objective, ISO 8601 P1D to P1Y; absent: derived from the schedule (its longest gap between
   * two slots plus `rpoGrace`), shared/rpo/rpo.ts.
   */
  rpo?: string;
  /** Added to the schedule's longest gap when the RPO is derived, ISO 8601 days/hours/minutes; absent: PT1H. */
  rpoGrace?: string;
  /** Which optional events its instances publish (docs/operations.md, "Events"); absent: none of them. */
  notifications?: PolicyNotifications;
}

/** Optional events: failures are always published, successes only when asked for. */
export interface PolicyNotifications {
  /** `pgvault.job.succeeded` for every job of the policy's instances that succeeds. */
  jobSucceeded: boolean;
}

/** How often the scheduler runs a restore drill of an instance's latest recovery point. */
export interface PolicyVerification {
  /** ISO 8601 duration, P1D to P1Y: a drill is due once the instance's last one is older than this. */
  interval: string;
}

export const compressionAlgorithms = ["zstd", "gzip", "none"] as const;
export type CompressionAlgorithm = (typeof compressionAlgorithms)[number];

/** The policy's compression: the algorithm, and its level (zstd 1-19, gzip 1-9; none has no level). */
export interface PolicyCompression {
  algorithm: CompressionAlgorithm;
  level?: number;
}

/** The key that wraps each recovery point's data key: a Key Vault key URI or `env:<SETTING>` (a reference, never key material). */
export interface PolicyEncryption {
  keyRef: string;
}

/** Sign in as the app's Microsoft Entra identity, mapped to this PostgreSQL role (Azure Database for PostgreSQL). */
export interface EntraAuth {
  type: "entra";
  user: string;
}

/**
 * How pgvault signs in to a database: the credentials a Key Vault secret (or `env:` setting) holds, or a Microsoft
 * Entra access token of the app's identity, fetched for each operation. Exactly one of the two.
 */
export type DatabaseSignIn = { secretRef: string; auth?: never } | { auth: EntraAuth; secretRef?: never };

/** A database and how to sign in to it; a stored instance always has its host and port. */
export type DatabaseEndpoint = { host: string; port: number; database: string } & DatabaseSignIn;

/**
 * A database as a request names it: host and port may be left out when the secret names them, and must equal the
 * secret's when given (SPEC section 5, shared/postgres/serverBinding.ts). An Entra sign-in always names its host.
 */
export type RequestedDatabaseEndpoint = { host?: string; port?: number; database: string } & DatabaseSignIn;

export type DatabaseDatasource = { type: "database" } & DatabaseEndpoint;

export interface FlexibleServerDatasource {
  type: "flexibleServer";
  resourceId: string;
}

export type Datasource = DatabaseDatasource | FlexibleServerDatasource;

export type ProtectionState = "ProtectionConfigured" | "ProtectionStopped";

/**
 * A PostgreSQL server and how to sign in to it, with no database named: where a Flexible Server point's restore
 * drills run (each database into a scratch database of its own). Host and port may be left to the secret.
 */
export type ServerEndpoint = { host?: string; port?: number } & DatabaseSignIn;

export interface BackupInstance {
  name: string;
  policyName: string;
  datasource: Datasource;
  /**
   * `flexibleServer` instances only: the server restore drills of the instance's points restore into (pgvault has
   * no credentials for the Flexible Server itself). Absent: such points cannot be drilled.
   */
  verification?: ServerEndpoint;
  protectionState: ProtectionState;
  createdAt: string;
}

export type RecoveryPointStatus = "Available" | "SoftDeleted" | "Deleted";

/** What every recovery point has, whatever took it. */
interface RecoveryPointBase {
  id: string;
  instanceName: string;
  time: string;
  tag: RetentionTag;
  expiresAt: string;
  status: RecoveryPointStatus;
  /** Bytes the vault holds for this point. */
  sizeBytes: number;
  /** Container-qualified blob paths, e.g. `backups/sales-prod/rp-.../sales.dump`. */
  blobs: string[];
  /** Until when the vault holds every blob of the point immutable (time-based policy); absent: not immutable. */
  immutableUntil?: string;
  immutabilityMode?: ImmutabilityPolicyMode;
  /** `SoftDeleted` points: when they were deleted, and from when retention purges their data. */
  softDeletedAt?: string;
  purgeAfter?: string;
  /** Set by retention before it deletes the data; from then on the point can no longer be soft-deleted or undeleted. */
  deletionStartedAt?: string;
  /**
   * Present only while the backup job that writes the row has not finished recording it (the first of the record
   * step's two writes, shared/backup/pointRecording.ts): until then a cancel of that job may still remove it, and
   * retention neither keeps it as the instance's newest point nor deletes it. Absent: the point is recorded complete.
   */
  recording?: { jobId: string };
}

/** Whether the point's backup job finished recording it: the row, not the job, says so. */
export const isRecorded = (rp: Pick<RecoveryPointBase, "recording">): boolean => rp.recording === undefined;

/** The newest point a restore can use: Available and recorded complete. `points` newest first. */
export const newestAvailablePoint = <P extends Pick<RecoveryPointBase, "status" | "recording">>(points: readonly P[]): P | undefined =>
  points.find((rp) => rp.status === "Available" && isRecorded(rp));

/** Azure's time-based immutability modes: `Unlocked` can be shortened or removed by a privileged identity, `Locked` by nobody. */
export type ImmutabilityPolicyMode = "Unlocked" | "Locked";

/** A `database` backup: one pg_dump custom-format file in the `backups` container. */
export interface DumpRecoveryPoint extends RecoveryPointBase {
  format: "pg_dump-custom";
  /**
   * How pgvault compressed pg_dump's uncompressed archive (docs/architecture.md, "Compression"); the stored file is
   * then in checked segments (shared/encryption/segmentFormat.ts). Absent for points taken before: the file is
   * pg_dump's own archive, compressed by pg_dump, stored as it wrote it (or encrypted).
   */
  compression?: CompressionAlgorithm;
  /** Of the stored bytes (the ciphertext when encrypted). */
  sha256: string;
  serverVersion: string;
  toolVersion: string;
  /** Present when the dump is stored encrypted: how, and with which wrapped data key. */
  encryption?: RecoveryPointEncryption;
  /**
   * The contents record taken with the dump (`contents-<attempt>.json` in the point's folder: object counts and
   * rows per table, counted in pg_dump's own snapshot); encrypted like the dump. Absent for points taken before it
   * existed.
   */
  contents?: RecoveryPointContents;
  /** The last restore drill of this point (POST .../verify, or the policy's schedule). */
  verification?: RecoveryPointVerification;
}

/** Where a dump's contents record is, and the SHA-256 of its stored bytes (the ciphertext when encrypted). */
export interface RecoveryPointContents {
  blobPath: string;
  sha256: string;
}

export type VerificationOutcome = "Succeeded" | "Failed";

/**
 * The verdict of a restore drill: the point was restored into a scratch database (a Flexible Server point: each of
 * its databases into one of its own) and checked there. Only drills
 * that reached a verdict about the point are recorded: one that could not run (no CREATEDB, server unreachable,
 * cancelled) fails its job and leaves the point's last verification as it was.
 */
export interface RecoveryPointVerification {
  verifiedAt: string;
  outcome: VerificationOutcome;
  jobId: string;
  /** Tables whose rows were counted in the restored database. */
  tablesChecked: number;
  /** Rows counted in those tables. */
  rowsChecked: number;
  /**
   * Whether the point has a contents record to compare with. False for points taken before pgvault recorded one
   * and for Flexible Server points (the server's files have none): the drill then proves that pg_restore restores
   * every object (and the SHA-256, where the point has one), and counts what it restored.
   */
  rowCountsRecorded: boolean;
  /**
   * Tables whose restored data was read back and compared with its digest taken from the archive at backup time
   * (docs/architecture.md, "Per-table digests"). Absent when none was: a point taken before pgvault digested
   * tables, or a Flexible Server point.
   */
  tablesDigested?: number;
  /** Why the outcome is Failed (`UserErrorRecoveryPointCorrupted`). */
  error?: JobError;
}

/**
 * How an encrypted dump is stored (docs/architecture.md, "Encryption"): AES-256-GCM segments under a data key of
 * its own, which is kept only wrapped by the policy's key.
 */
export interface RecoveryPointEncryption {
  format: "pgvault-aes-256-gcm-segments";
  formatVersion: 1;
  /** Plaintext bytes per segment. */
  segmentSize: number;
  /** The policy's key reference when the point was taken. */
  keyRef: string;
  /** Key Vault: the key version that wrapped the data key. App setting: `sha256:<16 hex>`, a fingerprint of the key. */
  keyVersion: string;
  /** `RSA-OAEP-256` (Key Vault key) or `A256KW` (AES key wrap, RFC 3394; app-setting key). */
  algorithm: "RSA-OAEP-256" | "A256KW";
  /** The data key wrapped by that key, base64. */
  wrappedKey: string;
}

/** What the Flexible Server long-term-retention operation reported about the backup it wrote. */
export interface LtrBackupDetails {
  backupName: string;
  datasourceSizeInBytes: number;
  dataTransferredInBytes: number;
  /** The server's own description of the backup, kept verbatim: it is what a restore of these files needs. */
  backupMetadata?: string;
  startTime: string;
  endTime: string;
}

/** A `flexibleServer` backup: the files the server wrote into the point's own vault containers. */
export interface LtrRecoveryPoint extends RecoveryPointBase {
  format: "flexibleServer-ltr";
  serverResourceId: string;
  serverVersion: string;
  /** The vault containers created for this point; nothing else is stored in them. */
  containers: string[];
  ltr: LtrBackupDetails;
  /**
   * The last restore drill of this point: each database archive restored into a scratch database on the instance's
   * drill server (`BackupInstance.verification`) and counted; `rowCountsRecorded` is always false (the server's
   * backup records no counts to compare with).
   */
  verification?: RecoveryPointVerification;
}

export type RecoveryPoint = DumpRecoveryPoint | LtrRecoveryPoint;

/**
 * Part of a database's archive to restore (docs/operations.md, "Recovering one table"): whole schemas, and tables as
 * `schema.table` (each part as PostgreSQL reads an identifier: folded to lower case unless double-quoted), each with
 * what belongs to it (shared/restore/archiveSubset.ts).
 */
export interface RestoreInclude {
  schemas?: string[];
  tables?: string[];
}

/**
 * As the restore request named it: the target's server is settled from its secret by each step that connects.
 * `privileges` and `roles` are absent in requests (and orchestration inputs) from before they existed: `all` and
 * `skip` then. `include` restores part of the point; `intoSchema` puts that part into the existing `database`
 * under a new schema of this name, beside what is there (never with `overwrite`).
 */
export type DatabaseRestoreTarget = {
  type: "database";
  overwrite: boolean;
  preserveOwnership: boolean;
  /** Unless ownership is preserved: `all` keeps every grant whose grantee exists on the target, `none` keeps none. */
  privileges?: PrivilegesMode;
  /** `createMissing`: the roles the dump names, recorded with the point, are created where missing, and objects go to their owners. */
  roles?: RolesMode;
  include?: RestoreInclude;
  intoSchema?: string;
} & RequestedDatabaseEndpoint;

/**
 * Which of the archive's grants a restore without `preserveOwnership` keeps: `all` (the default) those whose
 * grantee exists on the target, PUBLIC included, listing the rest on the job; `none` none (objects keep only their
 * owner's privileges, as before pgvault kept grants).
 */
export type PrivilegesMode = "all" | "none";

export interface BlobRestoreTarget {
  type: "blob";
  containerUrl: string;
  prefix: string;
  /** Replace files of the same names that another export (or anyone) left there; otherwise such an export is refused. */
  overwrite?: boolean;
  /** `files` (absent in requests from before there was a choice): the point's own files; `csv`: the tables `include` names, one CSV each. */
  format?: ExportFormat;
  /** With `format: "csv"`: the tables (`schema.table`, as a restore's `include.tables` names them). */
  include?: { tables: string[] };
  /** With `format: "csv"` of a Flexible Server point: which of its databases the tables are in. */
  database?: string;
}

export type ExportFormat = "files" | "csv";

/** One database of a Flexible Server point, and the name it gets on the target; `include` restores part of it. */
export interface DatabaseMapping {
  name: string;
  restoreAs: string;
  include?: RestoreInclude;
}

/**
 * How a point's roles reach the target: `skip` restores without ownership and keeps only grants whose grantees
 * exist there; `createMissing` first creates the roles the dumps need from the point's roles file (a database
 * point: the role definitions its contents record holds), cleaned (no SUPERUSER, REPLICATION, BYPASSRLS or password; `azure_*`, `pg_*` and the source's administrators
 * left out), then gives objects to their owners where it can.
 */
export type RolesMode = "skip" | "createMissing";

/**
 * A Flexible Server point restored to any PostgreSQL server: every database of the point under its own name
 * (`databases` absent), or the listed ones under the names given, each through a temporary database swapped in
 * at the end. Host and port may be left to the secret, as for a database target.
 */
export type ServerRestoreTarget = { type: "server"; databases?: DatabaseMapping[]; overwrite: boolean; roles: RolesMode } & ServerEndpoint;

export type RestoreTarget = DatabaseRestoreTarget | ServerRestoreTarget | BlobRestoreTarget;

/**
 * A role of the point's roles file that a `createMissing` restore did not create, and why; or a role it created
 * that it could not make a member of another as the roles file says (the reason names that role).
 */
export interface SkippedRole {
  role: string;
  reason: string;
}

/** What one database's restore left out for want of a role on the target: how many, and one example. */
export interface SkippedForRole {
  role: string;
  /** The database on the target. */
  database: string;
  count: number;
  /** One statement that was left out, e.g. `GRANT SELECT ON TABLE public.orders TO reporting`. */
  example: string;
}

/**
 * What a restore to a database or server could not carry over because the target lacks a role, and the roles it
 * created: shown on the job so nothing is dropped silently.
 */
export interface RestoreReport {
  /** Flexible Server points: each database restored, under the name it has on the target. */
  databases?: DatabaseMapping[];
  rolesCreated: string[];
  rolesSkipped: SkippedRole[];
  /**
   * Grants not restored because the grantee (or the `FOR ROLE` role of default privileges) is missing on the
   * target, or because the server did not let the restoring user make them (a system object it does not own).
   */
  grantsSkipped: SkippedForRole[];
  /** Objects left owned by the restoring user because their owner is missing on the target, or not the user's to give. */
  ownershipSkipped: SkippedForRole[];
  /**
   * A subset restore (`include`): objects of the point left out because they need one that was not restored, such as
   * a foreign key to a table left out. Absent for whole restores.
   */
  objectsLeftOut?: ObjectLeftOut[];
  /** A restore `intoSchema`: where each restored table now is, and the SQL to compare and copy rows back. */
  intoSchema?: IntoSchemaReport;
  /**
   * How many entries each list above left out to stay small (each holds at most 100, the roles with the most
   * statements first); absent when nothing was left out.
   */
  omitted?: Partial<Record<"databases" | "rolesCreated" | "rolesSkipped" | "grantsSkipped" | "ownershipSkipped" | "objectsLeftOut", number>>;
}

/** An object of the archive a subset restore left out, and the objects it needs that were not restored. */
export interface ObjectLeftOut {
  /** The database on the target. */
  database: string;
  /** As the archive names it: `FK CONSTRAINT sales.lines lines_order_id_fkey`. */
  object: string;
  /** What it needs and was left out: `CONSTRAINT public.customers customers_pkey` (the key a foreign key references). */
  needs: string[];
}

/** The tables a restore `intoSchema` put beside the live ones, and the SQL a DBA runs next (docs/operations.md). */
export interface IntoSchemaReport {
  schema: string;
  /** `sales.orders` restored as `recovered.orders`; at most 100, the rest counted in `tablesOmitted`. */
  tables: { source: string; restoredAs: string }[];
  tablesOmitted?: number;
  /** For the first table: the rows the live table lacks, and the statement that copies them back. */
  compareSql: string;
  copyBackSql: string;
}

export type JobOperation = "Backup" | "Restore" | "Retention" | "Verify";
export type JobStatus = "Queued" | "InProgress" | "Succeeded" | "Failed" | "Cancelled";
export type JobTrigger = "Scheduled" | "OnDemand";
export type JobPhase =
  | "Queued"
  /** A scheduled backup waiting for another job of its instance to end (status stays `Queued`). */
  | "WaitingForInstance"
  /** A dump waiting for a free pg_dump slot of the host (MAX_CONCURRENT_DUMPS). */
  | "WaitingForSlot"
  | "ResolvingSecret"
  | "CheckingAccess"
  | "Uploading"
  | "Recording"
  | "Restoring"
  | "Swapping"
  | "Exporting"
  | "Verifying"
  | "CleaningUp"
  | "Done";

export interface Job {
  id: string;
  operation: JobOperation;
  trigger: JobTrigger;
  instanceName: string;
  status: JobStatus;
  startTime: string;
  endTime?: string;
  phase: JobPhase;
  bytes: number;
  /**
   * Backups of `database` instances, from `Uploading` on: the database's size as the access check measured it
   * (pg_database_size), so a first backup's progress has a total to be shown against; the dump is usually smaller.
   */
  expectedBytes?: number;
  recoveryPointId?: string;
  error?: JobError;
  /** Restores to a database or server: roles created, and what was left out for want of a role. */
  restoreReport?: RestoreReport;
  /** Set by POST /jobs/{id}/cancel; running steps watch for it and stop. */
  cancelRequested?: boolean;
  /**
   * When a restore's swap claimed the job (ISO): from then on the target may be replaced, so a cancel is refused
   * and the job's own end says what happened to it.
   */
  swapStartedAt?: string;
}

export const finishedJobStatuses: readonly JobStatus[] = ["Succeeded", "Failed", "Cancelled"];

/** The job row's `instanceName` for a retention run over every instance. */
export const allInstances = "*";

/** Name rule for policies and instances (SPEC section 1). */
export const resourceNamePattern = /^[a-z0-9][a-z0-9-]{2,62}$/;

/** Container that holds all backup data in the vault account. */
export const backupContainer = "backups";
