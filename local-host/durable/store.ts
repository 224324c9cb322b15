/**
 * Durable state in one Azure Table (`<hub>Durable`), one partition per orchestration instance, so every change
 * an episode makes (history, inbox, work items, status) commits in one entity-group transaction, as the Azure
 * Storage provider's work items and history do. Rows: `status`, `h-<seq>` history events, `i-<time>-<seq>`
 * inbox messages waiting for the next episode, `w-<eventId>` scheduled work (activities, timers, children).
 */
import { TableClient, type TransactionAction } from "@azure/data-tables";
import type { HistoryEvent } from "./history";

export type RuntimeStatus = "Pending" | "Running" | "Completed" | "Failed" | "Terminated";
export const activeStatuses: readonly RuntimeStatus[] = ["Pending", "Running"];

export interface InstanceStatus {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  parent?: { instanceId: string; taskId: number };
  historyCount: number;
}

/** Scheduled work of an instance; retries are not work items but new tasks the shim schedules (shim.ts). */
export type WorkItem =
  | { kind: "activity"; eventId: number; name: string; input: unknown }
  | { kind: "timer"; eventId: number; fireAt: string }
  | { kind: "subOrchestration"; eventId: number; name: string; input: unknown; instanceId: string };

export interface Partition {
  status?: InstanceStatus;
  history: HistoryEvent[];
  inbox: { rowKey: string; event: HistoryEvent }[];
  work: WorkItem[];
}

export type Change =
  | { kind: "status"; status: InstanceStatus }
  | { kind: "history"; seq: number; event: HistoryEvent }
  | { kind: "inbox"; event: HistoryEvent }
  | { kind: "deleteInbox"; rowKey: string }
  | { kind: "work"; item: WorkItem }
  | { kind: "deleteWork"; eventId: number };

const pad = (n: number) => n.toString().padStart(10, "0");
let inboxSeq = 0;

export class DurableStore {
  readonly table: TableClient;

  constructor(connectionString: string, hubName: string) {
    this.table = TableClient.fromConnectionString(connectionString, `${hubName}Durable`, {
      allowInsecureConnection: /UseDevelopmentStorage|https?:\/\/(127\.0\.0\.1|localhost)/i.test(connectionString),
    });
  }

  async init(): Promise<void> {
    await this.table.createTable();
  }

  async load(instanceId: string): Promise<Partition> {
    const partition: Partition = { history: [], inbox: [], work: [] };
    const filter = `PartitionKey eq '${instanceId.replaceAll("'", "''")}'`;
    for await (const row of this.table.listEntities<{ data: string }>({ queryOptions: { filter } })) {
      const key = row.rowKey ?? "";
      const data = JSON.parse(row.data) as unknown;
      if (key === "status") partition.status = data as InstanceStatus;
      else if (key.startsWith("h-")) partition.history.push(data as HistoryEvent);
      else if (key.startsWith("i-")) partition.inbox.push({ rowKey: key, event: data as HistoryEvent });
      else if (key.startsWith("w-")) partition.work.push(data as WorkItem);
    }
    return partition;
  }

  async status(instanceId: string): Promise<InstanceStatus | undefined> {
    try {
      const row = await this.table.getEntity<{ data: string }>(instanceId, "status");
      return JSON.parse(row.data) as InstanceStatus;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  }

  async statuses(): Promise<InstanceStatus[]> {
    const all: InstanceStatus[] = [];
    for await (const row of this.table.listEntities<{ data: string }>({ queryOptions: { filter: "RowKey eq 'status'" } })) {
      all.push(JSON.parse(row.data) as InstanceStatus);
    }
    return all;
  }

  /** Applies the changes atomically (in chunks of 100, the service's limit per transaction). */
  async commit(instanceId: string, changes: Change[]): Promise<void> {
    const actions: TransactionAction[] = changes.map((change) => {
      switch (change.kind) {
        case "status":
          return ["upsert", { partitionKey: instanceId, rowKey: "status", data: JSON.stringify(change.status) }, "Replace"];
        case "history":
          return ["upsert", { partitionKey: instanceId, rowKey: `h-${pad(change.seq)}`, data: JSON.stringify(change.event) }, "Replace"];
        case "inbox":
          return [
            "create",
            { partitionKey: instanceId, rowKey: `i-${pad(Date.now())}-${pad(inboxSeq++)}`, data: JSON.stringify(change.event) },
          ];
        case "deleteInbox":
          return ["delete", { partitionKey: instanceId, rowKey: change.rowKey }];
        case "work":
          return ["upsert", { partitionKey: instanceId, rowKey: `w-${pad(change.item.eventId)}`, data: JSON.stringify(change.item) }, "Replace"];
        case "deleteWork":
          return ["delete", { partitionKey: instanceId, rowKey: `w-${pad(change.eventId)}` }];
      }
    });
    for (let start = 0; start < actions.length; start += 100) {
      await this.table.submitTransaction(actions.slice(start, start + 100));
    }
  }

  /** Removes every row of the instance; tells whether there was one. */
  async purge(instanceId: string): Promise<boolean> {
    const { history, inbox, work, status } = await this.load(instanceId);
    if (!status) return false;
    const keys = [
      "status",
      ...history.map((_, i) => `h-${pad(i)}`),
      ...inbox.map((m) => m.rowKey),
      ...work.map((w) => `w-${pad(w.eventId)}`),
    ];
    for (let start = 0; start < keys.length; start += 100) {
      await this.table.submitTransaction(keys.slice(start, start + 100).map((rowKey) => ["delete", { partitionKey: instanceId, rowKey }]));
    }
    return true;
  }
}
