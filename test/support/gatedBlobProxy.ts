/**
 * An HTTP proxy in front of Azurite's blob service that holds, releases and breaks chosen requests, so a test forces
 * the order in which the requests of concurrent clients reach the service, step by step rather than by sleeps.
 *
 * Each client gets an endpoint of its own (one listener per name), which is how the proxy knows who sent a request:
 * give each copy of the app under test its own (test/support/workerCopy.ts). A request's body is read before
 * anything is decided, so a rule may look at it. Then, in this order:
 * - a fault whose rule matches breaks it: `reset` closes the connection without forwarding (the request never
 *   reached the service), `loseResponse` forwards it and closes the connection once the service has answered (it
 *   landed, but the client cannot know);
 * - a gate whose rule matches holds it until the test releases it (`Gate.next`, `HeldCall.release`, `Gate.open`);
 * - anything else is forwarded as it came (Shared Key signatures do not cover the host, so they stay valid).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { relay, sendUpstream } from "./forwardingProxy";

export interface BlobCall {
  /** The name of the client whose endpoint it came through. */
  client: string;
  method: string;
  /** `<container>/<blob name>`, decoded, without the account. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type CallMatch = (call: BlobCall) => boolean;

/** `reset`: closed unanswered, never forwarded. `loseResponse`: forwarded, then closed before the answer reached the client. */
export type Fault = "reset" | "loseResponse";

export interface HeldCall {
  readonly call: BlobCall;
  /** Forwards it (or breaks it with `fault`); resolves once done, with the service's status (undefined when reset). */
  release(fault?: Fault): Promise<number | undefined>;
}

export interface Gate {
  /** The calls held now, in the order they arrived. */
  readonly held: readonly HeldCall[];
  /** The first held call that matches `filter`: one held now, or the next to arrive. Does not release it. */
  next(filter?: CallMatch): Promise<HeldCall>;
  /** Releases every held call and holds no more; resolves once they were answered. */
  open(): Promise<void>;
}

export interface ProxyLogEntry {
  call: BlobCall;
  /** What the service answered (absent when the call never reached it). */
  status?: number;
  fault?: Fault;
}

export interface GatedBlobProxy {
  /** `BlobEndpoint` for `client`'s connection string: `http://127.0.0.1:<port>/devstoreaccount1`. */
  endpoint(client: string): string;
  /** Holds the calls matching `match` (the first `times` of them) until released. */
  hold(match: CallMatch, times?: number): Gate;
  /** Breaks the calls matching `match` (the first `times` of them) with `fault`; `hits` counts them. */
  fault(match: CallMatch, fault: Fault, times?: number): { readonly hits: number };
  /** Every call that was forwarded or broken, in the order they were done with. */
  readonly log: readonly ProxyLogEntry[];
  /** Releases whatever is still held, then stops listening. */
  close(): Promise<void>;
}

export const isPutBlock: CallMatch = (call) => call.method === "PUT" && call.query.get("comp") === "block";
export const isPutBlockList: CallMatch = (call) => call.method === "PUT" && call.query.get("comp") === "blocklist";
/** Put Blob: a whole blob in one request (how small files are uploaded). */
export const isPutBlob: CallMatch = (call) => call.method === "PUT" && !call.query.has("comp");
export const isGetProperties: CallMatch = (call) => call.method === "HEAD" && !call.query.has("comp");
/** A download of a dump: what a restore reads once its temporary database exists. */
export const isDumpDownload: CallMatch = (call) => call.method === "GET" && call.path.endsWith(".dump");

/** The block id of a Put Block, decoded from its base64. */
export function blockIdOf(call: BlobCall): string | undefined {
  const id = call.query.get("blockid");
  return id === null ? undefined : Buffer.from(id, "base64").toString("utf8");
}

interface Rule {
  match: CallMatch;
  left: number;
}

interface GateState extends Rule {
  held: HeldCall[];
  waiters: { filter: CallMatch; resolve: (held: HeldCall) => void }[];
}

function takes(rule: Rule, call: BlobCall): boolean {
  if (rule.left <= 0 || !rule.match(call)) return false;
  rule.left--;
  return true;
}

async function readBody(request: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function startGatedBlobProxy(azuriteBlobEndpoint: string, clients: readonly string[]): Promise<GatedBlobProxy> {
  const target = new URL(azuriteBlobEndpoint);
  const account = target.pathname.replace(/\/$/, "");
  const gates: GateState[] = [];
  const faults: (Rule & { fault: Fault; hits: number })[] = [];
  const log: ProxyLogEntry[] = [];

  /** Forwards or breaks one call; resolves once the client got its answer (or lost it). */
  const complete = async (call: BlobCall, request: http.IncomingMessage, response: http.ServerResponse, fault?: Fault): Promise<number | undefined> => {
    if (fault === "reset") {
      request.socket.destroy();
      log.push({ call, fault });
      return undefined;
    }
    let upstream: http.IncomingMessage;
    try {
      upstream = await sendUpstream(target, request, call.body);
    } catch {
      response.destroy();
      return undefined;
    }
    const status = upstream.statusCode;
    if (fault === "loseResponse") {
      // Read to the end, so the service has finished with it before the client learns nothing.
      await readBody(upstream);
      request.socket.destroy();
    } else {
      const answered = new Promise((resolve) => response.once("close", resolve));
      relay(upstream, response);
      await answered;
    }
    log.push({ call, status, ...(fault ? { fault } : {}) });
    return status;
  };

  const holdIn = (gate: GateState, call: BlobCall, request: http.IncomingMessage, response: http.ServerResponse) => {
    const held: HeldCall = {
      call,
      release: (fault) => {
        gate.held.splice(gate.held.indexOf(held), 1);
        return complete(call, request, response, fault);
      },
    };
    gate.held.push(held);
    for (const waiter of gate.waiters.filter((w) => w.filter(call))) {
      gate.waiters.splice(gate.waiters.indexOf(waiter), 1);
      waiter.resolve(held);
    }
  };

  const handle = async (client: string, request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://proxy");
    const path = decodeURIComponent(url.pathname.startsWith(`${account}/`) ? url.pathname.slice(account.length + 1) : url.pathname);
    const call: BlobCall = { client, method: request.method ?? "", path, query: url.searchParams, headers: request.headers, body: await readBody(request) };
    const fault = faults.find((rule) => takes(rule, call));
    if (fault) {
      fault.hits++;
      await complete(call, request, response, fault.fault);
      return;
    }
    const gate = gates.find((rule) => takes(rule, call));
    if (gate) holdIn(gate, call, request, response);
    else await complete(call, request, response);
  };

  const servers = new Map<string, { server: http.Server; endpoint: string }>();
  for (const client of clients) {
    const server = http.createServer((request, response) => void handle(client, request, response).catch(() => response.destroy()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.set(client, { server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}${account}` });
  }

  const openGate = async (gate: GateState) => {
    gate.left = 0;
    await Promise.all([...gate.held].map((held) => held.release()));
  };

  return {
    endpoint(client) {
      const listener = servers.get(client);
      if (!listener) throw new Error(`the proxy has no endpoint for client '${client}'`);
      return listener.endpoint;
    },
    hold(match, times = Infinity) {
      const state: GateState = { match, left: times, held: [], waiters: [] };
      gates.push(state);
      return {
        held: state.held,
        next: (filter = () => true) =>
          new Promise<HeldCall>((resolve) => {
            const found = state.held.find((held) => filter(held.call));
            if (found) resolve(found);
            else state.waiters.push({ filter, resolve });
          }),
        open: () => openGate(state),
      };
    },
    fault(match, fault, times = Infinity) {
      const rule = { match, left: times, fault, hits: 0 };
      faults.push(rule);
      return {
        get hits() {
          return rule.hits;
        },
      };
    },
    log,
    async close() {
      await Promise.all(gates.map(openGate));
      await Promise.all(
        [...servers.values()].map(
          ({ server }) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}
