/**
 * The part of the Durable extension's HTTP API that a client binding calls to start an orchestration
 * (`POST {rpcBaseUrl}orchestrators/{name}/{instanceId}`), recording each start so a test can then run that
 * orchestration through the replay driver. It also builds the `durableClient` binding payload the extension hands
 * a function, so handlers get a real `DurableClient` from `df.getClient`.
 */
import { InvocationContext } from "@azure/functions";
import { afterAll, beforeAll } from "vitest";
import * as df from "durable-functions";
import type { DurableClient } from "durable-functions";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface StartedOrchestration {
  name: string;
  instanceId: string;
  input: unknown;
}

export interface DurableClientStandIn {
  started: StartedOrchestration[];
  client(functionName: string, logs?: string[]): { client: DurableClient; context: InvocationContext };
  close(): Promise<void>;
}

export interface StandInOptions {
  /**
   * Answers a status request (`GET instances/{id}`): a runtime status such as "Running", or undefined for 404. The
   * stand-in runs no orchestrations, so by default it knows none (404). Awaited, so a test can also hold a handler
   * at the point where it asks.
   */
  runtimeStatusOf?: (instanceId: string) => Promise<string | undefined>;
}

export async function startDurableClientStandIn(options: StandInOptions = {}): Promise<DurableClientStandIn> {
  const started: StartedOrchestration[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      const status = /^\/runtime\/webhooks\/durabletask\/instances\/([^/?]+)/.exec(req.url ?? "");
      if (req.method === "GET" && status) {
        const instanceId = decodeURIComponent(status[1]!);
        void Promise.resolve(options.runtimeStatusOf?.(instanceId)).then((runtimeStatus) => {
          if (!runtimeStatus) return res.writeHead(404).end();
          const now = new Date().toISOString();
          const body = { name: started.find((s) => s.instanceId === instanceId)?.name ?? "", instanceId, createdTime: now, lastUpdatedTime: now, input: null, output: null, runtimeStatus };
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
        });
        return;
      }
      const match = /^\/runtime\/webhooks\/durabletask\/orchestrators\/([^/?]+)(?:\/([^/?]+))?/.exec(req.url ?? "");
      if (req.method !== "POST" || !match) {
        res.writeHead(404).end();
        return;
      }
      const instanceId = decodeURIComponent(match[2] ?? `generated-${started.length}`);
      started.push({ name: match[1]!, instanceId, input: body ? (JSON.parse(body) as unknown) : undefined });
      res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ id: instanceId }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/runtime/webhooks/durabletask/`;
  const clientInput = df.input.durableClient();
  return {
    started,
    client(functionName, logs = []) {
      const context = new InvocationContext({
        functionName,
        invocationId: `${functionName}-${started.length}`,
        options: { extraInputs: [clientInput] },
        logHandler: (_level, ...args) => logs.push(args.map(String).join(" ")),
      });
      context.extraInputs.set(clientInput, {
        taskHubName: "pgvault",
        creationUrls: { createNewInstancePostUri: `${base}orchestrators/{functionName}[/{instanceId}]`, createAndWaitOnNewInstancePostUri: "" },
        managementUrls: { id: "INSTANCEID", statusQueryGetUri: `${base}instances/INSTANCEID` },
        baseUrl: base,
        requiredQueryStringParameters: "",
        rpcBaseUrl: base,
      });
      return { client: df.getClient(context), context };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A stand-in for the whole test file: started before its tests, closed after them. */
export function useDurableClientStandIn(options: StandInOptions = {}): () => DurableClientStandIn {
  let standIn: DurableClientStandIn | undefined;
  beforeAll(async () => {
    standIn = await startDurableClientStandIn(options);
  });
  afterAll(() => standIn?.close());
  return () => {
    if (!standIn) throw new Error("the durable client stand-in is not started yet");
    return standIn;
  };
}
