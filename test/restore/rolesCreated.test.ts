/**
 * Roles with a database's recovery point (issue 23, point 4): a backup under an encrypting policy records the
 * definitions of the roles its dump refers to (owners, grantees, and the members of those), without passwords,
 * sealed in its contents record; a restore with `roles: "createMissing"` onto a second, fresh PostgreSQL cluster
 * (its restoring user has CREATEDB and CREATEROLE, not SUPERUSER, as an Azure server's administrator) creates them,
 * cleaned, and the restored database's owners and grants equal the source's. A point whose record keeps no roles
 * (one from before) still restores, every missing role listed. Real pg_dump, pg_restore, PostgreSQL and Azurite,
 * through the backup and restore orchestrations with the real activities. The tests run in order.
 */
import { randomBytes } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { startPostgresCluster, type PostgresCluster } from "../../local-host/embedded/postgres";
import { createDatabaseRolesActivity } from "../../activities/createDatabaseRoles";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { putRecoveryPoint } from "../../shared/catalog/catalog";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import { isoSeconds } from "../../shared/time/isoTime";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { readContentsRecord } from "../../shared/contents/contentsRecord";
import type { DatabaseRestoreTarget, DumpRecoveryPoint } from "../../shared/domain";
import { asDumpPoint, databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { runRestore } from "../support/restoreFixture";
import { createBackupRole, createDatabase, dropDatabasesAndRoles, uniqueName, withAdmin } from "../support/testDatabase";

const keySetting = "PGVAULT_TEST_ROLES_KEK";
const owner = uniqueName("rc_owner");
const group = uniqueName("rc_group");
const member = uniqueName("rc_member");
const bypass = uniqueName("rc_bypass");
/** Named only by a row-security policy: in no GRANT or OWNER statement of the archive. */
const policyRole = uniqueName("rc_policy");
const backupUser = uniqueName("rc_backup");
const source = uniqueName("rc_src");
let target: PostgresCluster;
let restorer: { role: string; secretRef: string };
let rp: DumpRecoveryPoint;

beforeAll(async () => {
  process.env[keySetting] = randomBytes(32).toString("base64");
  await withAdmin("postgres", (c) =>
    c.query(`CREATE ROLE ${owner} LOGIN CREATEDB PASSWORD 'owner-secret' VALID UNTIL 'infinity' CONNECTION LIMIT 7;
             CREATE ROLE ${group} NOLOGIN;
             CREATE ROLE ${member} LOGIN PASSWORD 'member-secret';
             CREATE ROLE ${bypass} NOLOGIN BYPASSRLS;
             CREATE ROLE ${policyRole} NOLOGIN;
             GRANT ${group} TO ${member};`),
  );
  await createDatabase(source);
  await withAdmin(source, (c) =>
    c.query(`GRANT CREATE ON DATABASE ${source} TO ${owner};
             CREATE SCHEMA app AUTHORIZATION ${owner};
             SET ROLE ${owner};
             CREATE TABLE app.accounts (id int PRIMARY KEY, name text NOT NULL);
             INSERT INTO app.accounts SELECT g, 'account ' || g FROM generate_series(1, 50) g;
             CREATE SEQUENCE app.numbers;
             CREATE FUNCTION app.accounts_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM app.accounts';
             REVOKE EXECUTE ON FUNCTION app.accounts_count() FROM PUBLIC;
             GRANT EXECUTE ON FUNCTION app.accounts_count() TO ${group};
             GRANT USAGE ON SCHEMA app TO ${group};
             GRANT SELECT ON app.accounts TO ${group};
             GRANT SELECT (name) ON app.accounts TO ${bypass};
             GRANT USAGE ON SEQUENCE app.numbers TO ${group};
             ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO ${group};
             ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
             CREATE POLICY readers ON app.accounts FOR SELECT TO ${policyRole} USING (id > 10);
             RESET ROLE;`),
  );
  await createBackupRole(source, backupUser, "pw-backup");
  // pg_dump (and the count) of a table with row security needs it (docs/security.md).
  await withAdmin("postgres", (c) => c.query(`ALTER ROLE ${backupUser} BYPASSRLS`));
  const instance = await protect(
    uniqueName("rc").replaceAll("_", "-"),
    databaseSource(source, envSecret(`PGVAULT_SECRET_${backupUser}`, backupUser, "pw-backup")),
    { encryption: { keyRef: `env:${keySetting}` } },
  );
  expect((await runBackup(instance)).state.error).toBeUndefined();
  rp = asDumpPoint((await listRecoveryPoints(instance.name))[0]);

  target = await startPostgresCluster();
  const role = uniqueName("rc_restorer");
  await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB CREATEROLE PASSWORD 'pw-target'`), target);
  restorer = { role, secretRef: envSecret(`PGVAULT_SECRET_${role}`, role, "pw-target", target) };
}, 180_000);

afterAll(async () => {
  await target?.destroy();
  await dropDatabasesAndRoles([source], [backupUser, policyRole, bypass, member, group, owner]);
});

function onTarget(database: string): DatabaseRestoreTarget {
  return { type: "database", host: target.host, port: target.port, database, secretRef: restorer.secretRef, overwrite: false, preserveOwnership: false, roles: "createMissing" };
}

/** Owners and privileges of the database's own objects, by name: equal on source and target when ownership was kept. */
async function ownersAndGrants(database: string, server?: PostgresCluster) {
  return withAdmin(
    database,
    async (c) =>
      (
        await c.query(
          `SELECT 'schema' AS kind, nspname AS name, pg_get_userbyid(nspowner) AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname IN ('app', 'public')
           UNION ALL SELECT 'relation', relname, pg_get_userbyid(relowner), relacl::text FROM pg_class WHERE relnamespace = 'app'::regnamespace
           UNION ALL SELECT 'column', attname, NULL, attacl::text FROM pg_attribute WHERE attrelid = 'app.accounts'::regclass AND attacl IS NOT NULL
           UNION ALL SELECT 'function', proname, pg_get_userbyid(proowner), proacl::text FROM pg_proc WHERE pronamespace = 'app'::regnamespace
           UNION ALL SELECT 'default', defaclobjtype::text, pg_get_userbyid(defaclrole), defaclacl::text FROM pg_default_acl
           UNION ALL SELECT 'policy', polname, NULL, array(SELECT pg_get_userbyid(r) FROM unnest(polroles) r)::text FROM pg_policy
           ORDER BY 1, 2`,
        )
      ).rows,
    server,
  );
}

describe("roles recorded with a database's recovery point (issue 23)", () => {
  test("when the policy encrypts, then the point's sealed contents record holds the roles the dump refers to and their members, without passwords", async () => {
    expect(rp.encryption).toBeDefined();
    const [container, ...name] = rp.contents!.blobPath.split("/");
    const stored = await BlobServiceClient.fromConnectionString(inject("vaultConnectionString")).getContainerClient(container!).getBlobClient(name.join("/")).downloadToBuffer();
    expect(stored.toString("latin1")).not.toContain(owner);

    const roles = (await readContentsRecord({ ...rp, contents: rp.contents! })).roles!;
    // The member is named nowhere in the dump: it is recorded as a member of the group the dump grants to.
    for (const role of [owner, group, member, bypass, policyRole, backupUser]) expect(roles).toContain(`CREATE ROLE "${role}";`);
    expect(roles).toContain(`GRANT "${group}" TO "${member}";`);
    expect(roles).toContain(`ALTER ROLE "${owner}" WITH NOSUPERUSER INHERIT NOCREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 7;`);
    // Recorded as the source has it; a restore leaves it out when it creates the role (below).
    expect(roles).toContain(`ALTER ROLE "${bypass}" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION BYPASSRLS;`);
    expect(roles).not.toMatch(/PASSWORD|VALID UNTIL|-secret/);
  });

  test("when the encrypted point is restored as files, then the manifest says where its role definitions are and carries none of them in plaintext", async () => {
    const container = BlobServiceClient.fromConnectionString(inject("exportConnectionString")).getContainerClient(uniqueName("rc-files").replaceAll("_", "-"));
    await container.create();
    const run = await runRestore(rp, { type: "blob", containerUrl: container.url, prefix: "roles" });

    expect(run.state.error).toBeUndefined();
    const manifest = (await container.getBlobClient("roles/manifest.json").downloadToBuffer()).toString();
    expect(JSON.parse(manifest)).toMatchObject({ rolesNote: expect.stringContaining("sealed in its contents record") });
    expect(JSON.parse(manifest).roles).toBeUndefined();
    for (const role of [owner, group, member, bypass, policyRole]) expect(manifest).not.toContain(role);
  });

  test("when the point's record keeps no roles (a point from before), then createMissing restores all the same and lists every missing role", async () => {
    const { contents, ...before } = rp;
    await putRecoveryPoint(before);
    const database = uniqueName("rc_before");
    // pg_restore needs a policy's role, whatever pgvault does: here the target has it (dropped again below).
    await withAdmin("postgres", (c) => c.query(`CREATE ROLE ${policyRole}`), target);
    try {
      const run = await runRestore(rp, onTarget(database));

      expect(run.state.error).toBeUndefined();
      const job = await getJob(run.jobId);
      expect(job?.status).toBe("Succeeded");
      expect(job?.restoreReport?.rolesCreated).toEqual([]);
      expect(job?.restoreReport?.rolesSkipped.map((skipped) => skipped.role).sort()).toEqual([backupUser, bypass, group, owner].sort());
      expect(job?.restoreReport?.rolesSkipped[0]?.reason).toMatch(/records no role definitions/);
      const tableOwner = await withAdmin(database, async (c) => (await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 'accounts'")).rows[0].tableowner, target);
      expect(tableOwner).toBe(restorer.role);
    } finally {
      await putRecoveryPoint({ ...rp, contents });
      await withAdmin("postgres", async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await c.query(`DROP ROLE ${policyRole}`);
      }, target);
    }
  }, 120_000);

  test("when the restore fails after the roles were created, then the job fails and the roles it created are dropped again", async () => {
    await putRecoveryPoint({ ...rp, sha256: "0".repeat(64) });
    try {
      const run = await runRestore(rp, onTarget(uniqueName("rc_failed")));

      expect(run.attempts.filter((a) => a.name === "createDatabaseRoles" && a.error === undefined)).toHaveLength(1);
      // The cleanup runs only for roles the job created.
      expect(run.attempts.filter((a) => a.name === "dropCreatedRoles" && a.error === undefined)).toHaveLength(1);
      const job = await getJob(run.jobId);
      expect(job?.status).toBe("Failed");
      expect(job?.error?.code).toBe("UserErrorRecoveryPointCorrupted");
      const left = await withAdmin("postgres", async (c) => (await c.query("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", [[owner, group, member, bypass, policyRole, backupUser]])).rows, target);
      expect(left).toEqual([]);
    } finally {
      await putRecoveryPoint(rp);
    }
  }, 120_000);

  test("when a restore is cancelled after its roles were created, then the cancel's cleanup drops them (found by their mark), and leaves the target's own roles", async () => {
    const jobId = uniqueName("rc-cancelled");
    const restoreTarget = onTarget(uniqueName("rc_cancelled"));
    await updateJob(jobId, { operation: "Restore", trigger: "OnDemand", instanceName: rp.instanceName, status: "InProgress", phase: "Restoring", startTime: isoSeconds(new Date()), bytes: 0, recoveryPointId: rp.id });
    const created = await createDatabaseRolesActivity({ jobId, instanceName: rp.instanceName, recoveryPointId: rp.id, target: restoreTarget });
    expect(created.ok && created.value.rolesCreated).toEqual(expect.arrayContaining([owner, member]));

    expect(await cleanUpCancelledJob(jobId, { kind: "restore", instanceName: rp.instanceName, recoveryPointId: rp.id, target: restoreTarget }, new Date())).toBe("cancelled");

    const rolesNamed = async (names: string[]) => withAdmin("postgres", async (c) => (await c.query("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", [names])).rows, target);
    expect(await rolesNamed([owner, group, member, bypass, policyRole, backupUser])).toEqual([]);
    expect(await rolesNamed([restorer.role])).toHaveLength(1);
    expect((await getJob(jobId))?.status).toBe("Cancelled");
  }, 120_000);

  test("when restored with createMissing onto a fresh server, then the roles are created cleaned and without passwords, and owners and grants equal the source's", async () => {
    const database = uniqueName("rc_restored");

    const run = await runRestore(rp, onTarget(database));

    expect(run.state.error).toBeUndefined();
    const job = await getJob(run.jobId);
    expect(job?.status).toBe("Succeeded");
    expect(job?.restoreReport).toEqual({
      rolesCreated: [backupUser, bypass, group, member, owner, policyRole].sort(),
      rolesSkipped: [],
      grantsSkipped: [],
      ownershipSkipped: [],
    });
    expect(await ownersAndGrants(database, target)).toEqual(await ownersAndGrants(source));
    const created = await withAdmin(
      "postgres",
      async (c) =>
        (
          await c.query(
            `SELECT rolname, rolcanlogin, rolcreatedb, rolbypassrls, rolsuper, rolconnlimit, rolpassword, rolvaliduntil FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname`,
            [[owner, member, bypass]],
          )
        ).rows,
      target,
    );
    expect(created).toEqual(
      [
        { rolname: owner, rolcanlogin: true, rolcreatedb: true, rolbypassrls: false, rolsuper: false, rolconnlimit: 7, rolpassword: null, rolvaliduntil: null },
        { rolname: member, rolcanlogin: true, rolcreatedb: false, rolbypassrls: false, rolsuper: false, rolconnlimit: -1, rolpassword: null, rolvaliduntil: null },
        // BYPASSRLS is cleaned away, as from a Flexible Server roles file.
        { rolname: bypass, rolcanlogin: false, rolcreatedb: false, rolbypassrls: false, rolsuper: false, rolconnlimit: -1, rolpassword: null, rolvaliduntil: null },
      ].sort((a, b) => a.rolname.localeCompare(b.rolname)),
    );
    const memberOfGroup = await withAdmin("postgres", async (c) => (await c.query("SELECT pg_has_role($1, $2, 'MEMBER') AS yes", [member, group])).rows[0].yes, target);
    expect(memberOfGroup).toBe(true);
    const rows = await withAdmin(database, async (c) => (await c.query("SELECT count(*)::int AS n FROM app.accounts")).rows[0].n, target);
    expect(rows).toBe(50);
  }, 120_000);
});
