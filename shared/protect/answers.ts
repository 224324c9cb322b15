/**
 * The answers of `POST /discoverDatabases` and `POST /protectDatabases` (docs/api.md, "Protect databases"): types
 * only, so the console reads them with the server's own definitions.
 */

/** The access check of one database: passed, or why not (with the grant script when grants are what is missing). */
export type AccessCheck =
  | { ok: true }
  | {
      ok: false;
      code: string;
      message: string;
      recommendedAction: string;
      /** The missing grants in the check's words, at most 50; `missingCount` says how many in all. */
      missing?: string[];
      missingCount?: number;
      grantScript?: string;
    };

export interface DiscoveredDatabase {
  name: string;
  /** `pg_database_size`; null when the user may not read it (no CONNECT on the database, not in pg_read_all_stats). */
  sizeBytes: number | null;
  /** An instance protects this database on this server (`ProtectionConfigured`); `instanceNames` are those instances. */
  protected: boolean;
  instanceNames: string[];
  access: AccessCheck;
}

export interface Discovery {
  server: { host: string; port: number };
  user: string;
  value: DiscoveredDatabase[];
  /** Databases beyond the first 200 (by name): not listed or checked. */
  notListed: number;
}

export interface ErrorAnswer {
  code: string;
  message: string;
  recommendedAction?: string;
  details?: { path: string; message: string }[];
}

/** How one database fared: as `PUT /backupInstances/{name}` would have answered (`status`), body and all. */
export type ProtectOutcome<Instance> = { database: string; instanceName: string } & (
  | { result: "created" | "updated"; status: 200 | 201; instance: Instance }
  | { result: "failed"; status: number; error: ErrorAnswer }
);

export interface ProtectAnswer<Instance> {
  value: ProtectOutcome<Instance>[];
  protected: number;
  failed: number;
}
