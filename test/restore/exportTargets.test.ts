/**
 * Where a restore as files may write, and what it may replace or remove there (issue 19): pgvault's own accounts
 * and containers are refused however the URL spells them; an export never replaces files it did not write unless
 * told to (`overwrite`), and a cancel removes only what its own job wrote.
 */
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import fc from "fast-check";
import { beforeAll, describe, expect, inject, test } from "vitest";
import { getJob, updateJob } from "../../shared/catalog/jobRows";
import type { BlobRestoreTarget, DumpRecoveryPoint } from "../../shared/domain";
import { PgVaultError, ValidationError } from "../../shared/errors";
import { cleanUpCancelledJob } from "../../shared/jobs/jobCleanup";
import { checkExportTarget, containerAddressOf, taskHubName } from "../../shared/restore/exportTarget";
import { parseRestoreRequest } from "../../shared/validation/restore";
import { asDumpPoint } from "../support/backupFixture";
import { backedUpRichDatabase, runRestore } from "../support/restoreFixture";
import { uniqueName } from "../support/testDatabase";

const vaultService = () => BlobServiceClient.fromConnectionString(inject("vaultConnectionString"));
const exportService = () => BlobServiceClient.fromConnectionString(inject("exportConnectionString"));

describe("pgvault's own containers and accounts", () => {
  const reserved = ["backups", "ltr-20260104t023007z-1a2b3c4d-0", `${taskHubName}-leases`, `${taskHubName}-largemessages`, `${taskHubName}-applease`, "azure-webjobs-hosts", "azure-webjobs-secrets"];
  const vaultAccount = "pgvaultvault.blob.core.windows.net";
  const ownAccounts = [vaultAccount, "pgvaultruntime.blob.core.windows.net"];

  /** A spelling of `name` as a URL path segment: some characters %-escaped (either case of hex), some letters upper-cased. */
  const spelling = (name: string) =>
    fc.array(fc.constantFrom("plain", "upper", "escaped", "escapedUpperHex"), { minLength: name.length, maxLength: name.length }).map((choices) =>
      [...name]
        .map((char, i) => {
          const hex = char.charCodeAt(0).toString(16).padStart(2, "0");
          return { plain: char, upper: char.toUpperCase(), escaped: `%${hex}`, escapedUpperHex: `%${hex.toUpperCase()}` }[choices[i]!]!;
        })
        .join(""),
    );
  const host = fc.constantFrom("pgvaultvault.blob.core.windows.net", "PGVAULTVAULT.blob.core.windows.net", "pgvaultvault.blob.core.windows.net.", "pgvaultvault.privatelink.blob.core.windows.net", "other.blob.core.windows.net", "pgvaultvault.blob.core.windows.net:443");
  const suffix = fc.constantFrom("", "/", "//");

  test("when a target names a reserved container in any spelling, on any host, then neither the request nor the step lets it through", () => {
    fc.assert(
      fc.property(fc.constantFrom(...reserved).chain((name) => spelling(name)), host, suffix, (container, chosenHost, end) => {
        const containerUrl = `https://${chosenHost}/${container}${end}`;
        const body = { recoveryPointId: "rp-20260104T023007Z-1a2b3c4d", target: { type: "blob", containerUrl } };
        expect(() => parseRestoreRequest(body)).toThrow(ValidationError);
        expect(() => checkExportTarget(containerUrl, ownAccounts)).toThrow(PgVaultError);
      }),
      { numRuns: 500 },
    );
  });

  test("when a target names the vault's or the runtime's account in any spelling, then the step refuses it whatever the container", () => {
    fc.assert(
      fc.property(fc.constantFrom("PGVAULTVAULT.blob.core.windows.net", "pgvaultvault.blob.core.windows.net.", "pgvaultvault.privatelink.blob.core.windows.net", "PgVaultRuntime.blob.core.windows.net", "pgvaultruntime.blob.core.windows.net:443"), (chosenHost) => {
        const refusal = () => checkExportTarget(`https://${chosenHost}/restores`, ownAccounts);
        expect(refusal).toThrow(/own storage account/);
      }),
    );
    expect(checkExportTarget("https://other.blob.core.windows.net/restores", ownAccounts)).toEqual({ account: "other.blob.core.windows.net", container: "restores" });
  });

  test("when a container URL is not an exact container (more path, a query, a user, an escaped or dot segment), then it is not one", () => {
    for (const url of [
      "https://acct.blob.core.windows.net/restores/more",
      "https://acct.blob.core.windows.net/restores?sv=1",
      "https://user@acct.blob.core.windows.net/restores",
      "https://acct.blob.core.windows.net/re%73tores",
      "http://acct.blob.core.windows.net/restores",
      "https://acct.blob.core.windows.net:8443/restores",
      "http://127.0.0.1:10000/restores",
    ]) {
      expect(containerAddressOf(url), url).toBeUndefined();
    }
    // A dot segment, escaped or not, is resolved as the service resolves it: here to the reserved `backups`.
    expect(containerAddressOf("https://acct.blob.core.windows.net/restores/%2e%2e/backups")).toEqual({ account: "acct.blob.core.windows.net", container: "backups" });
    // Every loopback name is the same machine, so the same Azurite account.
    expect(containerAddressOf("http://localhost:10000/devstoreaccount1/restores")).toEqual(containerAddressOf("http://127.0.0.1:10000/DevStoreAccount1/restores"));
  });

  test("when a restore targets the vault's own account (Azurite here) with any container, then the job fails with UserErrorContainerNotAccessible and writes nothing", async () => {
    const rp = await backedUpPoint();
    const vault = new URL(vaultService().url);
    const container = vaultService().getContainerClient(uniqueName("restores").replaceAll("_", "-"));
    await container.create();
    for (const containerUrl of [container.url, `${vault.protocol}//localhost:${vault.port}${vault.pathname.replace(/\/$/, "")}/${container.containerName}`]) {
      const job = await getJob((await runRestore(rp, { type: "blob", containerUrl, prefix: "x/" })).jobId);
      expect(job).toMatchObject({ status: "Failed", error: { code: "UserErrorContainerNotAccessible" } });
      expect(job?.error?.message).toContain("own storage account");
    }
    expect(await namesIn(container)).toEqual([]);
  });
});

let point: DumpRecoveryPoint | undefined;
async function backedUpPoint(): Promise<DumpRecoveryPoint> {
  point ??= asDumpPoint((await backedUpRichDatabase("exports_src")).rp);
  return point;
}

async function namesIn(container: ContainerClient): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) names.push(blob.name);
  return names.sort();
}

describe("what an export replaces and what its cancel removes", () => {
  let container: ContainerClient;
  const target = (prefix: string, overwrite = false): BlobRestoreTarget => ({ type: "blob", containerUrl: container.url, prefix, overwrite });

  beforeAll(async () => {
    container = exportService().getContainerClient(uniqueName("exact-exports").replaceAll("_", "-"));
    await container.create();
  });

  test("when files of another export are at the prefix, then a second export is refused and leaves them as they were; with overwrite it replaces them", async () => {
    const rp = await backedUpPoint();
    expect((await runRestore(rp, target("same/"))).state.error).toBeUndefined();
    const before = await container.getBlobClient("same/manifest.json").getProperties();

    const refused = await getJob((await runRestore(rp, target("same/"))).jobId);
    expect(refused).toMatchObject({ status: "Failed", error: { code: "UserErrorContainerNotAccessible" } });
    expect(refused?.error?.message).toContain("already holds 'same/manifest.json'");
    expect((await container.getBlobClient("same/manifest.json").getProperties()).etag).toBe(before.etag);

    const replaced = await runRestore(rp, target("same/", true));
    expect(replaced.state.error).toBeUndefined();
    expect((await container.getBlobClient("same/manifest.json").getProperties()).metadata).toEqual({ pgvaultjob: replaced.jobId });
  });

  test("when a file someone else put there has an export's name, then the export is refused and writes nothing", async () => {
    const rp = await backedUpPoint();
    const dumpName = `theirs/${rp.blobs[0]!.split("/").at(-1)!}`;
    await container.getBlockBlobClient(dumpName).upload("not ours", 8);
    const job = await getJob((await runRestore(rp, target("theirs/"))).jobId);
    expect(job?.error?.code).toBe("UserErrorContainerNotAccessible");
    expect(await namesIn(container).then((names) => names.filter((name) => name.startsWith("theirs/")))).toEqual([dumpName]);
    expect((await container.getBlobClient(dumpName).downloadToBuffer()).toString()).toBe("not ours");
  });

  test("when an export is cancelled before it wrote anything, then an earlier export at the same prefix is left whole", async () => {
    const rp = await backedUpPoint();
    const earlier = await runRestore(rp, target("kept/"));
    expect(earlier.state.error).toBeUndefined();
    const files = await namesIn(container).then((names) => names.filter((name) => name.startsWith("kept/")));
    expect(files).toHaveLength(2);

    const queuedJobId = uniqueName("queued-export");
    await updateJob(queuedJobId, { operation: "Restore", trigger: "OnDemand", instanceName: rp.instanceName, status: "Queued", startTime: new Date().toISOString(), bytes: 0 });
    expect(await cleanUpCancelledJob(queuedJobId, { kind: "restore", instanceName: rp.instanceName, recoveryPointId: rp.id, target: target("kept/") }, new Date())).toBe("cancelled");
    expect(await namesIn(container).then((names) => names.filter((name) => name.startsWith("kept/")))).toEqual(files);
  });

  test("when an export that replaced files is cancelled, then only its own files go", async () => {
    const rp = await backedUpPoint();
    expect((await runRestore(rp, target("mixed/"))).state.error).toBeUndefined();
    // A later export replaced only the manifest (as a concurrent or partial export could), then was cancelled.
    const later = await runRestore(rp, target("mixed/", true));
    expect(later.state.error).toBeUndefined();
    const dumpName = `mixed/${rp.blobs[0]!.split("/").at(-1)!}`;
    await container.getBlockBlobClient(dumpName).upload("someone else's", 14, { metadata: { pgvaultjob: "another-job" } });
    await updateJob(later.jobId, { status: "InProgress" }, { afterFinish: true });

    expect(await cleanUpCancelledJob(later.jobId, { kind: "restore", instanceName: rp.instanceName, recoveryPointId: rp.id, target: target("mixed/", true) }, new Date())).toBe("cancelled");
    expect(await namesIn(container).then((names) => names.filter((name) => name.startsWith("mixed/")))).toEqual([dumpName]);
  });
});
