/**
 * Another Functions worker inside the test process. Azure runs the copies of an at-least-once activity on separate
 * workers, each with its own clients and caches; here a copy is the app's modules loaded afresh (vi.resetModules),
 * its configuration read with the vault's blob endpoint set to `blobEndpoint`. Pointing each copy at its own
 * endpoint of a gated proxy (gatedBlobProxy.ts) tells the proxy which copy sent a request.
 */
import { vi } from "vitest";
import { withBlobEndpoint } from "./recordingBlobProxy";

/** Runs `load` (dynamic imports of app modules) in a fresh module registry whose vault blob endpoint is `blobEndpoint`. */
export async function loadWorkerCopy<T>(blobEndpoint: string, load: () => Promise<T>): Promise<T> {
  const shared = process.env.VaultStorage;
  if (!shared) throw new Error("VaultStorage is not set");
  vi.resetModules();
  process.env.VaultStorage = withBlobEndpoint(shared, blobEndpoint);
  try {
    const loaded = await load();
    // Read now, while the setting is this copy's: the configuration is read once per registry and then kept.
    (await import("../../shared/config")).getConfig();
    return loaded;
  } finally {
    process.env.VaultStorage = shared;
  }
}
