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
import { ActionType, EventType, historyEvent, retryDelay, stateOfThrownOrchestrator, type HistoryEvent, type OrchestratorAction, type OrchestratorState } from "./history";
import { activeStatuses, type Change, type DurableStore, type InstanceStatus, type WorkItem } from "./store";

export class InstanceExistsError extends Error {}
export class UnknownOrchestratorError extends Error {}
export class InstanceNotFoundError extends Error {}
export class InstanceNotRunningError extends Error {}

/** setTimeout's limit; longer timers are re-armed. */
const maxTimeoutMs = 2 ** 31 - 1;
/** Waits between attempts to store a change, doubling from the first to the last. */
const storeRetryMs = { first: 1_000, last: 30_000 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export interface EngineOptions {
  maxConcurrentActivities: number;
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
        actionCount: 0,
        nextEventId: 0,
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

  async terminate(instanceId: string, reason: string): Promise<void> {
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
    const fresh: HistoryEvent[] = [historyEvent(EventType.OrchestratorStarted, {}, -1, now)];
    if (isFirst) fresh.push(historyEvent(EventType.ExecutionStarted, { Name: status.name, Input: JSON.stringify(status.input) }, -1, now));
    fresh.push(...inbox.map((m) => m.event));
    const history = [...partition.history.map((e) => ({ ...e, IsPlayed: true })), ...fresh];

    const state = await this.#callOrchestrator(status, history);
    const changes: Change[] = inbox.map((m): Change => ({ kind: "deleteInbox", rowKey: m.rowKey }));
    const next: InstanceStatus = { ...status, runtimeStatus: "Running", customStatus: state.customStatus ?? null, lastUpdatedTime: now.toISOString() };
    const appended: HistoryEvent[] = [...fresh];
    const dispatch: WorkItem[] = [];
    const actions = state.actions.flat();
    let continueAsNew: OrchestratorAction | undefined;
    let unsupported: string | undefined;
    for (const action of actions.slice(status.actionCount)) {
      const id = next.nextEventId;
      switch (action.actionType) {
        case ActionType.CallActivity:
        case ActionType.CallActivityWithRetry:
          appended.push(historyEvent(EventType.TaskScheduled, { Name: action.functionName, Input: JSON.stringify(action.input ?? null) }, id, now));
          dispatch.push({ kind: "activity", eventId: id, name: action.functionName ?? "", input: action.input ?? null, retry: action.retryOptions, attempt: 1, firstAttemptAt: now.toISOString() });
          next.nextEventId++;
          break;
        case ActionType.CreateTimer:
          appended.push(historyEvent(EventType.TimerCreated, { FireAt: action.fireAt }, id, now));
          dispatch.push({ kind: "timer", eventId: id, fireAt: action.fireAt ?? now.toISOString() });
          next.nextEventId++;
          break;
        case ActionType.CallSubOrchestrator:
        case ActionType.CallSubOrchestratorWithRetry: {
          const childId = action.instanceId || `${instanceId}:${id}`;
          appended.push(historyEvent(EventType.SubOrchestrationInstanceCreated, { Name: action.functionName, InstanceId: childId, Input: JSON.stringify(action.input ?? null) }, id, now));
          dispatch.push({ kind: "subOrchestration", eventId: id, name: action.functionName ?? "", input: action.input ?? null, instanceId: childId });
          next.nextEventId++;
          break;
        }
        case ActionType.WaitForExternalEvent:
          break; // matched by name when the event arrives; takes no task id
        case ActionType.ContinueAsNew:
          continueAsNew = action;
          break;
        default:
          unsupported ??= `The local host does not support orchestrator action type ${action.actionType}.`;
      }
    }
    next.actionCount = actions.length;
    const error = state.error ?? unsupported;
    appended.push(historyEvent(EventType.OrchestratorCompleted, {}, -1, now));

    if (continueAsNew && !error) {
      // A new execution: history and pending work are dropped, the new input starts over.
      await this.#store.commit(instanceId, [
        ...changes,
        ...partition.work.map((item): Change => ({ kind: "deleteWork", eventId: item.eventId })),
        { kind: "status", status: { ...next, input: continueAsNew.input ?? null, actionCount: 0, nextEventId: 0, historyCount: 0 } },
      ]);
      await this.#deleteHistory(instanceId, partition.history.length);
      this.#requestEpisode(instanceId);
      return;
    }
    if (state.isDone || error) {
      next.runtimeStatus = error ? "Failed" : "Completed";
      next.output = error ?? state.output ?? null;
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
      upperSchemaVersion: 3,
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
    let outcome: { ok: true; result: unknown } | { ok: false; reason: string; details: string };
    try {
      if (!fn) throw new Error(`No activity function named '${item.name}' is registered.`);
      const client = this.#options.durableClientPayload;
      const extraInputs = client ? { durableClient: { string: JSON.stringify(client()) } } : undefined;
      const response = await invoke(fn, jsonData(item.input), { log: this.#options.log, extraInputs });
      outcome = { ok: true, result: fromTypedData(response.returnValue) ?? null };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      outcome = { ok: false, reason: error.message, details: error.stack ?? "" };
    }
    if (this.#stopped) return; // the work item stays; the next start runs it again
    let retryTimer: WorkItem | undefined;
    // The result is kept while its storing is tried again: a storage outage does not make the activity run twice.
    const stored = await this.#persistently(instanceId, `the result of ${item.name}`, async () => {
      const { status, work } = await this.#store.load(instanceId);
      if (!status || !activeStatuses.includes(status.runtimeStatus)) return;
      if (!work.some((w) => w.kind === "activity" && w.eventId === item.eventId)) return;
      const changes: Change[] = [{ kind: "deleteWork", eventId: item.eventId }];
      if (outcome.ok) {
        changes.push({ kind: "inbox", event: historyEvent(EventType.TaskCompleted, { TaskScheduledId: item.eventId, Result: JSON.stringify(outcome.result) }) });
      } else {
        changes.push({ kind: "inbox", event: historyEvent(EventType.TaskFailed, { TaskScheduledId: item.eventId, Reason: outcome.reason, Details: outcome.details }) });
        retryTimer = this.#retryTimer(status, item);
        if (retryTimer) {
          changes.push(
            { kind: "inbox", event: historyEvent(EventType.TimerCreated, { FireAt: (retryTimer as { fireAt: string }).fireAt }, retryTimer.eventId) },
            { kind: "work", item: retryTimer },
            { kind: "status", status: { ...status, nextEventId: status.nextEventId + 2 } },
          );
        }
      }
      await this.#store.commit(instanceId, changes);
    });
    if (!stored) return;
    if (retryTimer) this.#dispatch(instanceId, retryTimer);
    this.#requestEpisode(instanceId);
  }

  /**
   * durable-functions replays a retry as: TaskFailed, a retry timer, a new TaskScheduled, each taking the next
   * task id. Its RetryableTask waits for that timer after every failure, the last one included, and only then
   * gives up; so a final failure gets a timer too, due at once, with nothing scheduled after it.
   */
  #retryTimer(status: InstanceStatus, item: ActivityItem): WorkItem | undefined {
    const retry = item.retry;
    if (!retry) return undefined;
    const timerId = status.nextEventId;
    const fireAt = Date.now() + retryDelay(retry, item.attempt);
    const timedOut = retry.retryTimeoutInMilliseconds !== undefined && fireAt - Date.parse(item.firstAttemptAt) > retry.retryTimeoutInMilliseconds;
    if (item.attempt >= retry.maxNumberOfAttempts || timedOut) {
      return { kind: "timer", eventId: timerId, fireAt: new Date().toISOString() };
    }
    const { kind: _kind, eventId: _eventId, ...rest } = item;
    return { kind: "timer", eventId: timerId, fireAt: new Date(fireAt).toISOString(), retryOf: { ...rest, attempt: item.attempt + 1, taskId: timerId + 1 } };
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
    let retried: ActivityItem | undefined;
    const stored = await this.#persistently(instanceId, "a timer", async () => {
      const { status, work } = await this.#store.load(instanceId);
      if (!status || !activeStatuses.includes(status.runtimeStatus)) return;
      if (!work.some((w) => w.kind === "timer" && w.eventId === item.eventId)) return;
      const changes: Change[] = [
        { kind: "deleteWork", eventId: item.eventId },
        { kind: "inbox", event: historyEvent(EventType.TimerFired, { TimerId: item.eventId, FireAt: item.fireAt }) },
      ];
      if (item.retryOf) {
        const { taskId, ...rest } = item.retryOf;
        retried = { kind: "activity", eventId: taskId, ...rest };
        changes.push(
          { kind: "inbox", event: historyEvent(EventType.TaskScheduled, { Name: rest.name }, taskId) },
          { kind: "work", item: retried },
        );
      }
      await this.#store.commit(instanceId, changes);
    });
    if (!stored) return;
    if (retried) this.#dispatch(instanceId, retried);
    this.#requestEpisode(instanceId);
  }
}
