/** Probing what a SAS URL allows: the HTTP status of a call through it, its permission letters, and its reach. */
import { ContainerClient } from "@azure/storage-blob";

/** 200 when `work` succeeds, else the status the storage service refused it with. */
export async function statusOf(work: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await work();
    return 200;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode;
  }
}

/** The `sp` letters of a SAS URL in alphabetical order, e.g. `dlrw`. */
export function sasPermissions(sasUrl: string): string {
  return [...(new URL(sasUrl).searchParams.get("sp") ?? "")].sort().join("");
}

/** What a container SAS let its holder do, each tried for real through the storage SDK. */
export interface ContainerSasReach {
  /** Upload a blob into its own container. */
  write: boolean;
  /** Download that blob again. */
  read: boolean;
  /** List its own container. */
  list: boolean;
  /** Delete that blob. */
  deleteBlob: boolean;
  /** Upload into `otherContainerUrl` (an existing container) with the same signature. */
  otherContainer: boolean;
  /** Create a new container beside its own. */
  createContainer: boolean;
  /** Delete its own container (tried last). */
  deleteContainer: boolean;
}

/**
 * Tries each operation once, in an order that leaves the container as it was until the last step. A 403 means
 * refused; any other failure (404, a network error) throws, so a probe that could not run never reads as "refused".
 */
export async function probeContainerSas(sasUrl: string, otherContainerUrl: string): Promise<ContainerSasReach> {
  const url = new URL(sasUrl);
  const own = new ContainerClient(sasUrl);
  const beside = (containerUrl: string) => new ContainerClient(`${containerUrl}?${url.searchParams.toString()}`);
  const sibling = `${url.origin}${url.pathname.replace(/[^/]+$/, "")}sasprobe-${Date.now().toString(36)}`;
  const blob = `sas-probe-${Date.now().toString(36)}.bin`;

  const write = await allowed("write", () => own.getBlockBlobClient(blob).upload("probe", 5));
  const read = write && (await allowed("read", () => own.getBlobClient(blob).downloadToBuffer()));
  const list = await allowed("list", async () => {
    for await (const item of own.listBlobsFlat()) void item;
  });
  const deleteBlob = write && (await allowed("delete blob", () => own.getBlobClient(blob).delete()));
  const otherContainer = await allowed("write elsewhere", () => beside(otherContainerUrl).getBlockBlobClient(blob).upload("probe", 5));
  const createContainer = await allowed("create container", () => beside(sibling).create());
  const deleteContainer = await allowed("delete container", () => own.delete());
  return { write, read, list, deleteBlob, otherContainer, createContainer, deleteContainer };
}

async function allowed(what: string, work: () => Promise<unknown>): Promise<boolean> {
  const status = await statusOf(work);
  if (status === 200) return true;
  if (status === 403) return false;
  throw new Error(`SAS probe '${what}' could not run: status ${String(status)}`);
}
