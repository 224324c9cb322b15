/**
 * Runs orchestrations the way the Durable extension does, on one machine: each episode feeds the registered
 * orchestration function its whole history through durable-functions' own replay, then carries out the new
 * actions it answers with (activities with their retry policies, durable timers, external events,
 * sub-orchestrations, continue-as-new). Results arrive as inbox messages and trigger the next episode. Every
 * state change is persisted (store.ts) before it takes effect, so a restarted host resumes where it stopped;
 * work items interrupted by a crash run again (at-least-once, like the real extension). A change the task hub's
 * storage refuses (it is down, or throttling) is tried again until it lands, as the extension retries its storage:
 * an outage delays orchestrations but neither stops the host nor leaves an instance waiting for a lost message.
 */
import { invoke, fromTypedData, jsonData } from "../invoke";
import type { LogLevel, RegisteredFunction } from "../coreTypes";
import { EventType, historyEvent, stateOfThrownOrchestrator, type HistoryEvent, type OrchestratorState } from "./history";
import { replayActions, scheduledEvent, type ScheduledTask } from "./shim";
import { activeStatuses, type Change, type DurableStore, type InstanceStatus, type Partition, type WorkItem } from "./store";

export class InstanceExistsError extends Error {}
export class UnknownOrchestratorError extends Error {}
export class InstanceNotFoundError extends Error {}
export class InstanceNotRunningError extends Error {}

/** setTimeout's limit; longer timers are re-armed. */
const maxTimeoutMs = 2 ** 31 - 1;
/** Waits between attempts to store a change, doubling from the first to the last. */
const storeRetryMs = { first: 1_000, last: 30_000 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export type TerminateDelivery = "immediate" | "queued" | "late";

export interface EngineOptions {
  maxConcurrentActivities: number;
  /** How `terminate` takes effect (see there). */
  terminate: TerminateDelivery;
  /** The `durableClient` binding payload, for activities that declare one (as the extension gives them). */
  durableClientPayload?: () => unknown;
  log: (level: LogLevel, functionName: string, message: string) => void;
}

type ActivityItem = Extract<WorkItem, { kind: "activity" }>;

export class DurableEngine {
  readonly #store: DurableStore;
  readonly #functions: Map<string, RegisteredFunction>;
  readonly #options: EngineOptions;
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #activityQueue: (() => void)[] = [];
  /** Instances whose last episode failed, and how long to wait before the next try. */
  readonly #episodeRetryMs = new Map<string, number>();
  #runningActivities = 0;
  #stopped = false;

  constructor(store: DurableStore, functions: Map<string, RegisteredFunction>, options: EngineOptions) {
    this.#store = store;
    this.#functions = functions;
    this.#options = options;
  }

  /** Picks up every instance that was running when the host last stopped. */
  async start(): Promise<void> {
    await this.#store.init();
    for (const status of await this.#store.statuses()) {
      if (!activeStatuses.includes(status.runtimeStatus)) continue;
      const { work } = await this.#store.load(status.instanceId);
      work.forEach((item) => this.#dispatch(status.instanceId, item));
      this.#requestEpisode(status.instanceId);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#timers.forEach((timer) => clearTimeout(timer));
    this.#timers.clear();
  }

  async startNew(name: string, instanceId: string, input: unknown, parent?: InstanceStatus["parent"]): Promise<InstanceStatus> {
    const fn = this.#functions.get(name);
    if (!fn || !Object.values(fn.metadata.bindings).some((b) => b.type === "orchestrationTrigger")) {
      throw new UnknownOrchestratorError(`No orchestrator function named '${name}' is registered.`);
    }
    const status = await this.#serialized(instanceId, async () => {
      const existing = await this.#store.status(instanceId);
      if (existing && activeStatuses.includes(existing.runtimeStatus)) {
        throw new InstanceExistsError(`An orchestration instance with the ID '${instanceId}' already exists and is ${existing.runtimeStatus}.`);
      }
      if (existing) await this.#store.purge(instanceId);
      const now = new Date().toISOString();
      const fresh: InstanceStatus = {
        instanceId,
        name,
        runtimeStatus: "Pending",
        input: input ?? null,
        output: null,
        customStatus: null,
        createdTime: now,
        lastUpdatedTime: now,
        parent,
        historyCount: 0,
      };
      await this.#store.commit(instanceId, [{ kind: "status", status: fresh }]);
      return fresh;
    });
    this.#requestEpisode(instanceId);
    return status;
  }

  async raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<void> {
    await this.#serialized(instanceId, async () => {
      const status = await this.#activeStatus(instanceId);
      await this.#store.commit(instanceId, [{ kind: "inbox", event: historyEvent(EventType.EventRaised, { Name: eventName, Input: JSON.stringify(data ?? null) }) }]);
      return status;
    });
    this.#requestEpisode(instanceId);
  }

  /**
   * `immediate`: the instance is Terminated when this returns and its pending work is dropped. `queued`: as in
   * Azure, only an ExecutionTerminated message is enqueued (DurableClient.TerminateAsync sends it to the instance's
   * control queue); the instance stays Running until an episode takes it. Here the messages queued ahead of it (and
   * an episode already running) still get one more ordinary episode, which may start new activities, and work
   * already handed out runs to its end. `late`: the latest Azure allows, for tests of what a late episode does: when
   * work is in flight, the termination waits for its next result, which gets one more ordinary episode first.
   */
  async terminate(instanceId: string, reason: string): Promise<void> {
    if (this.#options.terminate !== "immediate") {
      await this.#serialized(instanceId, async () => {
        await this.#activeStatus(instanceId);
        await this.#store.commit(instanceId, [{ kind: "inbox", event: historyEvent(EventType.ExecutionTerminated, { Input: reason }) }]);
      });
      this.#requestEpisode(instanceId);
      return;
    }
    await this.#serialized(instanceId, async () => {
      const status = await this.#activeStatus(instanceId);
      const { work, inbox } = await this.#store.load(instanceId);
      await this.#store.commit(instanceId, [
        ...work.map((item): Change => ({ kind: "deleteWork", eventId: item.eventId })),
        ...inbox.map((message): Change => ({ kind: "deleteInbox", rowKey: message.rowKey })),
        { kind: "status", status: { ...status, runtimeStatus: "Terminated", output: reason, lastUpdatedTime: new Date().toISOString() } },
      ]);
    });
  }

  async #activeStatus(instanceId: string): Promise<InstanceStatus> {
    const status = await this.#store.status(instanceId);
    if (!status) throw new InstanceNotFoundError(`No instance with ID '${instanceId}'.`);
    if (!activeStatuses.includes(status.runtimeStatus)) throw new InstanceNotRunningError(`Instance '${instanceId}' is ${status.runtimeStatus}.`);
    return status;
  }

  /** Runs `work` after every earlier state change of the same instance: episodes and results never interleave. */
  #serialized<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(instanceId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.#locks.set(instanceId, settled);
    void settled.then(() => {
      if (this.#locks.get(instanceId) === settled) this.#locks.delete(instanceId);
    });
    return next;
  }

  /**
   * A state change that must not be lost to a storage failure: tried again (waits doubling up to 30 s) until it is
   * stored or the engine stops (then the next start finds the work item and runs it again). Each try reloads the
   * instance first, so a change that did land is not made twice. False when the engine stopped first.
   */
  async #persistently(instanceId: string, what: string, change: () => Promise<void>): Promise<boolean> {
    for (let waitMs = storeRetryMs.first; ; waitMs = Math.min(waitMs * 2, storeRetryMs.last)) {
      try {
        await this.#serialized(instanceId, change);
        return true;
      } catch (err) {
        if (this.#stopped) return false;
        this.#options.log("warning", "durable", `${what} of ${instanceId} could not be stored (${String(err)}); trying again in ${waitMs / 1000} s`);
        await sleep(waitMs);
        if (this.#stopped) return false;
      }
    }
  }

  #requestEpisode(instanceId: string): void {
    if (this.#stopped) return;
    this.#serialized(instanceId, () => this.#episode(instanceId)).then(
      () => this.#episodeRetryMs.delete(instanceId),
      (err: unknown) => {
        // Its messages stay in the inbox: the episode is asked for again, or nothing would ever run it.
        const waitMs = this.#episodeRetryMs.get(instanceId) ?? storeRetryMs.first;
        this.#episodeRetryMs.set(instanceId, Math.min(waitMs * 2, storeRetryMs.last));
        this.#options.log("error", "durable", `episode of ${instanceId} failed: ${String(err)}; trying again in ${waitMs / 1000} s`);
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.#requestEpisode(instanceId);
        }, waitMs);
        this.#timers.add(timer);
      },
    );
  }

  async #episode(instanceId: string): Promise<void> {
    const partition = await this.#store.load(instanceId);
    const status = partition.status;
    if (!status) return;
    const inbox = partition.inbox.sort((a, b) => a.rowKey.localeCompare(b.rowKey));
    if (!activeStatuses.includes(status.runtimeStatus)) {
      // Late results of a finished instance are dropped, as the extension discards them.
      if (inbox.length) await this.#store.commit(instanceId, inbox.map((m): Change => ({ kind: "deleteInbox", rowKey: m.rowKey })));
      return;
    }
    const isFirst = partition.history.length === 0;
    if (!isFirst && inbox.length === 0) return;
    const now = new Date();
    const at = inbox.findIndex((m) => m.event.EventType === EventType.ExecutionTerminated);
    if (at >= 0) {
      const termination = inbox[at]!;
      // `queued`: the messages queued ahead of the termination get one more ordinary episode first. `late`: so does
      // the next message to arrive, when work is still in flight.
      const late = this.#options.terminate === "late";
      const before = late ? inbox.filter((m) => m !== termination) : inbox.slice(0, at);
      if (!termination.event.LateEpisodeRan && late && before.length === 0 && partition.work.length > 0) return;
      if (before.length > 0 && !termination.event.LateEpisodeRan) {
        await this.#runEpisode(partition, status, before, now, [
          { kind: "deleteInbox", rowKey: termination.rowKey },
          { kind: "inbox", event: { ...termination.event, LateEpisodeRan: true } },
        ]);
        this.#requestEpisode(instanceId);
        return;
      }
      await this.#endTerminated(partition, status, inbox, termination.event, now);
      return;
    }
    await this.#runEpisode(partition, status, inbox, now, []);
  }

  /**
   * One episode: the orchestrator replays its history plus the new messages, the shim (shim.ts) decides what that
   * schedules with which ids, and everything is stored in one commit before any work is handed out.
   */
  async #runEpisode(partition: Partition, status: InstanceStatus, messages: Partition["inbox"], now: Date, extra: Change[]): Promise<void> {
    const instanceId = status.instanceId;
    const fresh: HistoryEvent[] = [historyEvent(EventType.OrchestratorStarted, {}, -1, now)];
    if (partition.history.length === 0) fresh.push(historyEvent(EventType.ExecutionStarted, { Name: status.name, Input: JSON.stringify(status.input) }, -1, now));
    fresh.push(...messages.map((m) => m.event));
    const history = [...partition.history.map((e) => ({ ...e, IsPlayed: true })), ...fresh];

    const state = await this.#callOrchestrator(status, history);
    // Schema V2 and later: one list of every action so far (OutOfProcOrchestrationShim.ReplayOOProcOrchestration).
    const shim = replayActions(instanceId, history, state.actions.flat());
    const changes: Change[] = [...extra, ...messages.map((m): Change => ({ kind: "deleteInbox", rowKey: m.rowKey }))];
    const next: InstanceStatus = { ...status, runtimeStatus: "Running", customStatus: state.customStatus ?? null, lastUpdatedTime: now.toISOString() };
    const appended: HistoryEvent[] = [...fresh, ...shim.scheduled.map((task) => scheduledEvent(task, now)), historyEvent(EventType.OrchestratorCompleted, {}, -1, now)];
    const dispatch = shim.scheduled.map(workItemOf);
    // The extension ends an orchestration only once its shim has carried out every action (ScheduleDurableTaskEvents
    // awaits the replay before it looks at `error` and `isDone`); an unsupported action ends it at once.
    const failure = shim.unsupported ?? (shim.settled && state.error !== undefined ? `Orchestrator function '${status.name}' failed: ${state.error}` : undefined);

    if (shim.settled && state.isDone && shim.continueAsNew && !failure) {
      // A new execution: history and pending work are dropped, the new input starts over.
      await this.#store.commit(instanceId, [
        ...changes,
        ...partition.work.map((item): Change => ({ kind: "deleteWork", eventId: item.eventId })),
        { kind: "status", status: { ...next, input: shim.continueAsNew.input, historyCount: 0 } },
      ]);
      await this.#deleteHistory(instanceId, partition.history.length);
      this.#requestEpisode(instanceId);
      return;
    }
    if (failure !== undefined || (shim.settled && state.isDone)) {
      next.runtimeStatus = failure !== undefined ? "Failed" : "Completed";
      next.output = failure ?? state.output ?? null;
      appended.push(historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: next.runtimeStatus, Result: JSON.stringify(next.output) }, -1, now));
      changes.push(...partition.work.map((item): Change => ({ kind: "deleteWork", eventId: item.eventId })));
      dispatch.length = 0;
    }
    appended.forEach((event, i) => changes.push({ kind: "history", seq: status.historyCount + i, event }));
    next.historyCount = status.historyCount + appended.length;
    changes.push(...dispatch.map((item): Change => ({ kind: "work", item })), { kind: "status", status: next });
    await this.#store.commit(instanceId, changes);
    dispatch.forEach((item) => this.#dispatch(instanceId, item));
    if (!activeStatuses.includes(next.runtimeStatus) && next.parent) await this.#notifyParent(next);
  }

  /**
   * A queued termination (DurableTask.Core's dispatcher ends the instance when its batch holds an
   * ExecutionTerminated message, without running the orchestrator). Activities already handed out still run, as
   * their messages are already queued in Azure; their results are dropped.
   */
  async #endTerminated(partition: Partition, status: InstanceStatus, inbox: Partition["inbox"], termination: HistoryEvent, now: Date): Promise<void> {
    const reason = String(termination.Input ?? "");
    const { LateEpisodeRan: _ran, ...terminated } = termination;
    const others = inbox.filter((m) => m.event !== termination).map((m) => m.event);
    const appended = [
      historyEvent(EventType.OrchestratorStarted, {}, -1, now),
      ...others,
      terminated,
      historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: "Terminated", Result: JSON.stringify(reason) }, -1, now),
    ];
    const next: InstanceStatus = { ...status, runtimeStatus: "Terminated", output: reason, lastUpdatedTime: now.toISOString(), historyCount: status.historyCount + appended.length };
    await this.#store.commit(status.instanceId, [
      ...inbox.map((m): Change => ({ kind: "deleteInbox", rowKey: m.rowKey })),
      ...partition.work.filter((item) => item.kind === "timer").map((item): Change => ({ kind: "deleteWork", eventId: item.eventId })),
      ...appended.map((event, i): Change => ({ kind: "history", seq: status.historyCount + i, event })),
      { kind: "status", status: next },
    ]);
    if (next.parent) await this.#notifyParent(next);
  }

  async #deleteHistory(instanceId: string, count: number): Promise<void> {
    const keys = Array.from({ length: count }, (_, i) => `h-${i.toString().padStart(10, "0")}`);
    for (let start = 0; start < keys.length; start += 100) {
      await this.#store.table.submitTransaction(keys.slice(start, start + 100).map((rowKey) => ["delete", { partitionKey: instanceId, rowKey }]));
    }
  }

  async #callOrchestrator(status: InstanceStatus, history: HistoryEvent[]): Promise<OrchestratorState> {
    const fn = this.#functions.get(status.name);
    if (!fn) return { isDone: true, actions: [], error: `Orchestrator '${status.name}' is not registered.` };
    const binding = {
      history,
      input: status.input,
      instanceId: status.instanceId,
      isReplaying: false,
      parentInstanceId: status.parent?.instanceId ?? "",
      // What the extension announces: V2, and the newer V3 in its own field for SDKs that know it
      // (durable-functions Orchestrator.handle prefers upperSchemaVersionNew). V3 splits long timers in the SDK.
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: "3.00:00:00",
      maximumShortTimerDuration: "6.00:00:00",
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    try {
      const response = await invoke(fn, { string: JSON.stringify(binding) }, { log: this.#options.log });
      return fromTypedData(response.returnValue) as OrchestratorState;
    } catch (err) {
      return stateOfThrownOrchestrator(err) ?? { isDone: true, actions: [], error: err instanceof Error ? err.message : String(err) };
    }
  }

  async #notifyParent(child: InstanceStatus): Promise<void> {
    const parent = child.parent!;
    const event =
      child.runtimeStatus === "Completed"
        ? historyEvent(EventType.SubOrchestrationInstanceCompleted, { TaskScheduledId: parent.taskId, Result: JSON.stringify(child.output) })
        : historyEvent(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: parent.taskId, Reason: String(child.output), Details: "" });
    if (!(await this.#persistently(parent.instanceId, "a child's end", () => this.#store.commit(parent.instanceId, [{ kind: "inbox", event }])))) return;
    this.#requestEpisode(parent.instanceId);
  }

  #dispatch(instanceId: string, item: WorkItem): void {
    if (this.#stopped) return;
    if (item.kind === "activity") this.#enqueueActivity(instanceId, item);
    else if (item.kind === "timer") this.#arm(instanceId, item);
    else void this.#startChild(instanceId, item);
  }

  async #startChild(instanceId: string, item: Extract<WorkItem, { kind: "subOrchestration" }>): Promise<void> {
    try {
      const existing = await this.#store.status(item.instanceId);
      if (!existing) await this.startNew(item.name, item.instanceId, item.input, { instanceId, taskId: item.eventId });
    } catch (err) {
      const event = historyEvent(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: item.eventId, Reason: String(err), Details: "" });
      if (!(await this.#persistently(instanceId, "a child's failed start", () => this.#store.commit(instanceId, [{ kind: "inbox", event }])))) return;
    }
    if (!(await this.#persistently(instanceId, "a child's start", () => this.#store.commit(instanceId, [{ kind: "deleteWork", eventId: item.eventId }])))) return;
    this.#requestEpisode(instanceId);
  }

  /** Activities share a concurrency cap, like `maxConcurrentActivityFunctions` in host.json. */
  #enqueueActivity(instanceId: string, item: ActivityItem): void {
    const run = () => {
      this.#runningActivities++;
      void this.#runActivity(instanceId, item)
        .catch((err: unknown) => this.#options.log("error", "durable", `activity ${item.name} of ${instanceId} failed to run: ${String(err)}`))
        .finally(() => {
          this.#runningActivities--;
          this.#activityQueue.shift()?.();
        });
    };
    if (this.#runningActivities < this.#options.maxConcurrentActivities) run();
    else this.#activityQueue.push(run);
  }

  async #runActivity(instanceId: string, item: ActivityItem): Promise<void> {
    if (this.#stopped) return;
    const fn = this.#functions.get(item.name);
    let outcome: HistoryEvent;
    try {
      if (!fn) throw new Error(`No activity function named '${item.name}' is registered.`);
      const client = this.#options.durableClientPayload;
      const extraInputs = client ? { durableClient: { string: JSON.stringify(client()) } } : undefined;
      const response = await invoke(fn, jsonData(item.input), { log: this.#options.log, extraInputs });
      outcome = historyEvent(EventType.TaskCompleted, { TaskScheduledId: item.eventId, Result: JSON.stringify(fromTypedData(response.returnValue) ?? null) });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      // TaskActivityShim.RunAsync: TaskFailureException($"Activity function '{name}' failed: {message}", cause).
      outcome = historyEvent(EventType.TaskFailed, { TaskScheduledId: item.eventId, Reason: `Activity function '${item.name}' failed: ${error.message}`, Details: error.stack ?? "" });
    }
    if (this.#stopped) return; // the work item stays; the next start runs it again
    await this.#deliver(instanceId, item.eventId, outcome, `the result of ${item.name}`);
  }

  /**
   * Stores a work item's outcome as an inbox message and asks for an episode. The outcome is kept while its storing
   * is tried again, so a storage outage does not make the work run twice. A finished instance only loses the work item.
   */
  async #deliver(instanceId: string, eventId: number, message: HistoryEvent, what: string): Promise<void> {
    const stored = await this.#persistently(instanceId, what, async () => {
      const { status, work } = await this.#store.load(instanceId);
      if (!status || !work.some((w) => w.eventId === eventId)) return;
      const changes: Change[] = [{ kind: "deleteWork", eventId }];
      if (activeStatuses.includes(status.runtimeStatus)) changes.push({ kind: "inbox", event: message });
      await this.#store.commit(instanceId, changes);
    });
    if (stored) this.#requestEpisode(instanceId);
  }

  #arm(instanceId: string, item: Extract<WorkItem, { kind: "timer" }>): void {
    const delay = Math.max(0, Date.parse(item.fireAt) - Date.now());
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (delay > maxTimeoutMs) this.#arm(instanceId, item);
      else void this.#fire(instanceId, item);
    }, Math.min(delay, maxTimeoutMs));
    this.#timers.add(timer);
  }

  async #fire(instanceId: string, item: Extract<WorkItem, { kind: "timer" }>): Promise<void> {
    await this.#deliver(instanceId, item.eventId, historyEvent(EventType.TimerFired, { TimerId: item.eventId, FireAt: item.fireAt }), "a timer");
  }
}

function workItemOf(task: ScheduledTask): WorkItem {
  switch (task.kind) {
    case "activity":
      return { kind: "activity", eventId: task.id, name: task.name, input: task.input };
    case "timer":
      return { kind: "timer", eventId: task.id, fireAt: task.fireAt };
    case "subOrchestration":
      return { kind: "subOrchestration", eventId: task.id, name: task.name, input: task.input, instanceId: task.instanceId };
  }
}
