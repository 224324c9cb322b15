/** Changing a policy applies to new recovery points; existing ones keep the expiry they were recorded with. */
import { expect, test } from "vitest";
import { getPolicy, putPolicy } from "../../shared/catalog/catalog";
import { listRecoveryPoints } from "../../shared/catalog/recoveryPointReads";
import { databaseSource, envSecret, protect, runBackup } from "../support/backupFixture";
import { createBackupRole, createDatabase, uniqueName, withAdmin } from "../support/testDatabase";

test("when a policy is replaced, then earlier recovery points keep their expiry and the next one follows the new rules", async () => {
  const database = uniqueName("policy_change");
  await createDatabase(database);
  await withAdmin(database, (c) => c.query("CREATE TABLE t AS SELECT generate_series(1, 100) AS n"));
  const role = uniqueName("backup_user");
  await createBackupRole(database, role, "pw-policy");
  const instance = await protect(uniqueName("polchange").replaceAll("_", "-"), databaseSource(database, envSecret(`PGVAULT_SECRET_${role}`, role, "pw-policy")));

  await runBackup(instance);
  const [first] = await listRecoveryPoints(instance.name);
  expect(first!.tag).toBe("Weekly"); // first of its ISO week under the fixture policy (Weekly P12W)

  const policy = (await getPolicy(instance.policyName))!;
  await putPolicy({ ...policy, retention: { default: { duration: "P2D" }, rules: [] } });
  await runBackup(instance, `backup-${instance.name}-second`);

  // Both backups may fall in the same second, where ids do not order by time: find them by id.
  const all = await listRecoveryPoints(instance.name);
  const firstAgain = all.find((rp) => rp.id === first!.id);
  const second = all.find((rp) => rp.id !== first!.id);
  expect(firstAgain).toEqual(first);
  expect(second!.tag).toBe("Default");
  expect(Date.parse(second!.expiresAt) - Date.parse(second!.time)).toBe(2 * 86_400_000);
});
