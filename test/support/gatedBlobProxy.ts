/**
 * A forwarding proxy (forwardingProxy.ts) in front of Azurite's blob service that holds the requests a test picks
 * at a gate (stepGate.ts) until the test opens it: a restore held before it reads a byte of its dump, say, while
 * another copy of the same step goes on. Everything else is forwarded as it came.
 */
import type http from "node:http";
import { startForwardingProxy } from "./forwardingProxy";
import { stepGate, type StepGate } from "./stepGate";

export interface GatedBlobProxy {
  /** `BlobEndpoint` for a connection string. */
  blobEndpoint: string;
  /** The next request that `matches` picks waits at the returned gate until it is opened; later ones go through. */
  hold(matches: (request: http.IncomingMessage, url: URL) => boolean): StepGate;
  close(): Promise<void>;
}

export async function startGatedBlobProxy(azuriteBlobEndpoint: string): Promise<GatedBlobProxy> {
  let held: { matches: (request: http.IncomingMessage, url: URL) => boolean; gate: StepGate } | undefined;
  const forwarding = await startForwardingProxy(azuriteBlobEndpoint, (request, _response, url) => {
    if (!held?.matches(request, url)) return false;
    const { gate } = held;
    held = undefined;
    return gate.pass().then(() => false);
  });
  return {
    blobEndpoint: forwarding.endpoint,
    hold(matches) {
      held = { matches, gate: stepGate() };
      return held.gate;
    },
    close: () => forwarding.close(),
  };
}

/** A download (GET) of a dump blob: what a restore reads once its temporary database exists. */
export const dumpDownload = (request: http.IncomingMessage, url: URL): boolean => request.method === "GET" && url.pathname.endsWith(".dump");

