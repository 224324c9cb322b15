/**
 * What the Durable extension does with the actions an out-of-process orchestrator answers with, as a pure function
 * of the history: which tasks, timers and sub-orchestrations are scheduled, with which ids, and whether the
 * orchestration may end. The engine replays the whole history through it on every episode, as DurableTask.Core
 * replays the orchestration, so the ids it records are the ones the extension records and durable-functions expects.
 *
 * The rules, each read from the source named beside it:
 * - The actions are carried out one after another: each is awaited (its failure swallowed) before the next is
 *   scheduled; `WhenAll`/`WhenAny` schedule all their children at once and are awaited as one
 *   (Azure/azure-functions-durable-extension `src/WebJobs.Extensions.DurableTask/Listener/OutOfProcOrchestrationShim.cs`,
 *   `ProcessAsyncActionsV2` and `InvokeAPIFromAction`, schema V2/V3). So a failed branch of a `Task.all` does not
 *   end the orchestration until every branch has finished (.NET `Task.WhenAll`), even though durable-functions
 *   already threw.
 * - Every scheduled task, timer and sub-orchestration takes the next id of one counter
 *   (Azure/durabletask `src/DurableTask.Core/TaskOrchestrationContext.cs`, `idCounter++` in `ScheduleTaskInternal`,
 *   `CreateTimer`, `CreateSubOrchestrationInstanceCore`); external events take none.
 * - A retried call is attempt, timer, attempt, ...; the timer of a failed attempt is due at the orchestration's
 *   time plus `firstRetryInterval * backoffCoefficient^retryCount`, at most `maxRetryInterval`, and no timer follows
 *   when the retry timeout has passed (Azure/durabletask `src/DurableTask.Core/RetryInterceptor.cs`,
 *   `ComputeNextDelay`). After the last attempt one more timer is created, due at once, and only when it fires
 *   does the failure reach the orchestrator (Azure/durabletask PR #661, "Fix retry interceptor regression", which
 *   keeps that timer for replay compatibility with zero delay).
 * - A timer action marked canceled is still created (it keeps its id) and completes at once
 *   (`OutOfProcOrchestrationShim.cs`, `CreateTimer` with a cancelled token).
 * - An external event with no waiter is kept until one waits for that name (durable-functions
 *   `TaskOrchestrationExecutor` `deferredTasks`; the extension's `DurableOrchestrationContext` buffers likewise).
 * - The orchestration's clock is the timestamp of the latest OrchestratorStarted event (DurableTask.Core
 *   `TaskOrchestrationExecutor`, `CurrentUtcDateTime`).
 */
import { ActionType, EventType, historyEvent, type HistoryEvent, type OrchestratorAction, type RetryOptions } from "./history";

export type ScheduledTask =
  /** `attempt` counts from 1; `maxAttempts` is 1 for a call without a retry policy. */
  | { kind: "activity"; id: number; name: string; input: unknown; attempt: number; maxAttempts: number }
  | { kind: "timer"; id: number; fireAt: string }
  | { kind: "subOrchestration"; id: number; name: string; instanceId: string; input: unknown };

export interface ShimOutcome {
  /** What this episode schedules for the first time, in id order: to record in the history and to carry out. */
  scheduled: ScheduledTask[];
  /** Every action has been carried out to its end: only now may the orchestration complete or fail. */
  settled: boolean;
  /** Set when a carried-out action asked to continue as new. */
  continueAsNew?: { input: unknown };
  /** An action the local host cannot carry out. */
  unsupported?: string;
}

/** A task before the counter gave it its id. */
type Unnumbered = ScheduledTask extends infer T ? (T extends ScheduledTask ? Omit<T, "id"> : never) : never;

/** Called once with the task's outcome. */
type Done = (ok: boolean) => void;

/** The events that complete an open task, and the field that names its id. */
const completions: Partial<Record<number, string>> = {
  [EventType.TaskCompleted]: "TaskScheduledId",
  [EventType.TaskFailed]: "TaskScheduledId",
  [EventType.SubOrchestrationInstanceCompleted]: "TaskScheduledId",
  [EventType.SubOrchestrationInstanceFailed]: "TaskScheduledId",
  [EventType.TimerFired]: "TimerId",
};
const failures: readonly number[] = [EventType.TaskFailed, EventType.SubOrchestrationInstanceFailed];
/** The events by which an earlier episode recorded a scheduled id. */
const schedulingEvents: readonly number[] = [EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated];

/** The history event that records a newly scheduled task under its id. */
export function scheduledEvent(task: ScheduledTask, now: Date): HistoryEvent {
  switch (task.kind) {
    case "activity":
      return historyEvent(EventType.TaskScheduled, { Name: task.name, Input: JSON.stringify(task.input) }, task.id, now);
    case "timer":
      return historyEvent(EventType.TimerCreated, { FireAt: task.fireAt }, task.id, now);
    case "subOrchestration":
      return historyEvent(EventType.SubOrchestrationInstanceCreated, { Name: task.name, InstanceId: task.instanceId, Input: JSON.stringify(task.input) }, task.id, now);
  }
}

export function replayActions(instanceId: string, history: HistoryEvent[], actions: OrchestratorAction[]): ShimOutcome {
  return new Replay(instanceId, actions).run(history);
}

class Replay {
  readonly #instanceId: string;
  readonly #actions: OrchestratorAction[];
  #nextId = 0;
  #now = new Date(0);
  #next = 0;
  #settled = false;
  #continueAsNew?: { input: unknown };
  #unsupported?: string;
  readonly #all: ScheduledTask[] = [];
  readonly #open = new Map<number, Done>();
  readonly #waiting = new Map<string, Done[]>();
  readonly #buffered = new Map<string, number>();

  constructor(instanceId: string, actions: OrchestratorAction[]) {
    this.#instanceId = instanceId;
    this.#actions = actions;
  }

  run(history: HistoryEvent[]): ShimOutcome {
    const recorded = new Set<number>();
    for (const event of history) {
      if (schedulingEvents.includes(event.EventType)) recorded.add(event.EventId);
      else if (event.EventType === EventType.OrchestratorStarted) this.#now = new Date(event.Timestamp);
      else if (event.EventType === EventType.ExecutionStarted) this.#advance();
      else if (event.EventType === EventType.EventRaised) this.#raise(String(event.Name));
      else this.#complete(event);
    }
    return {
      scheduled: this.#all.filter((task) => !recorded.has(task.id)),
      settled: this.#settled,
      ...(this.#continueAsNew ? { continueAsNew: this.#continueAsNew } : {}),
      ...(this.#unsupported ? { unsupported: this.#unsupported } : {}),
    };
  }

  /** The shim's loop: the next action once the previous one has finished, whatever its outcome. */
  #advance(): void {
    const action = this.#actions[this.#next];
    if (!action) {
      this.#settled = true;
      return;
    }
    this.#next++;
    this.#start(action, () => this.#advance());
  }

  #start(action: OrchestratorAction, done: Done): void {
    switch (action.actionType) {
      case ActionType.CallActivity:
        return this.#activity(action, 1, 1, done);
      case ActionType.CallActivityWithRetry: {
        const options = action.retryOptions!;
        return this.#withRetry(options, (retryCount, attemptDone) => this.#activity(action, retryCount + 1, options.maxNumberOfAttempts, attemptDone), done);
      }
      case ActionType.CallSubOrchestrator:
        return this.#subOrchestration(action, done);
      case ActionType.CreateTimer: {
        const id = this.#schedule({ kind: "timer", fireAt: new Date(action.fireAt ?? this.#now).toISOString() }, done);
        if (action.isCanceled) this.#settle(id, false);
        return;
      }
      case ActionType.WaitForExternalEvent:
        return this.#waitFor(action.externalEventName ?? "", done);
      case ActionType.ContinueAsNew:
        this.#continueAsNew = { input: action.input ?? null };
        return done(true);
      case ActionType.WhenAll:
        return this.#whenAll(action.compoundActions ?? [], done);
      case ActionType.WhenAny:
        return this.#whenAny(action.compoundActions ?? [], done);
      default:
        // The action never finishes here, so nothing after it is scheduled; the engine fails the orchestration.
        this.#unsupported ??= `The local host does not support orchestrator action type ${action.actionType}.`;
    }
  }

  #activity(action: OrchestratorAction, attempt: number, maxAttempts: number, done: Done): void {
    this.#schedule({ kind: "activity", name: action.functionName ?? "", input: action.input ?? null, attempt, maxAttempts }, done);
  }

  #subOrchestration(action: OrchestratorAction, done: Done): void {
    const id = this.#nextId;
    // Without an id of its own the child is named after its parent and task id (see docs/local-host.md).
    const instanceId = action.instanceId || `${this.#instanceId}:${id}`;
    this.#schedule({ kind: "subOrchestration", name: action.functionName ?? "", instanceId, input: action.input ?? null }, done);
  }

  /** RetryInterceptor.Invoke: attempts separated by timers, and a final timer due at once after the last one. */
  #withRetry(options: RetryOptions, attempt: (retryCount: number, done: Done) => void, done: Done): void {
    const firstAttempt = this.#now.getTime();
    const run = (retryCount: number) =>
      attempt(retryCount, (ok) => {
        if (ok) return done(true);
        if (retryCount + 1 >= options.maxNumberOfAttempts) {
          return this.#timer(this.#now.getTime(), () => done(false));
        }
        const delay = this.#retryDelay(options, retryCount, firstAttempt);
        if (delay === 0) return done(false);
        this.#timer(this.#now.getTime() + delay, () => run(retryCount + 1));
      });
    run(0);
  }

  /** RetryInterceptor.ComputeNextDelay; zero once the retry timeout has passed. */
  #retryDelay(options: RetryOptions, retryCount: number, firstAttempt: number): number {
    const timeout = options.retryTimeoutInMilliseconds;
    if (timeout !== undefined && timeout > 0 && this.#now.getTime() >= firstAttempt + timeout) return 0;
    const delay = options.firstRetryIntervalInMilliseconds * (options.backoffCoefficient ?? 1) ** retryCount;
    return Math.min(delay, options.maxRetryIntervalInMilliseconds ?? Number.MAX_SAFE_INTEGER);
  }

  #timer(fireAtMs: number, fired: () => void): void {
    this.#schedule({ kind: "timer", fireAt: new Date(fireAtMs).toISOString() }, () => fired());
  }

  #waitFor(name: string, done: Done): void {
    const buffered = this.#buffered.get(name) ?? 0;
    if (buffered > 0) {
      this.#buffered.set(name, buffered - 1);
      return done(true);
    }
    this.#waiting.set(name, [...(this.#waiting.get(name) ?? []), done]);
  }

  #raise(name: string): void {
    const [first, ...rest] = this.#waiting.get(name) ?? [];
    if (!first) {
      this.#buffered.set(name, (this.#buffered.get(name) ?? 0) + 1);
      return;
    }
    this.#waiting.set(name, rest);
    first(true);
  }

  #whenAll(children: OrchestratorAction[], done: Done): void {
    let pending = children.length;
    let allOk = true;
    if (pending === 0) return done(true);
    for (const child of children) {
      this.#start(child, (ok) => {
        allOk &&= ok;
        if (--pending === 0) done(allOk);
      });
    }
  }

  #whenAny(children: OrchestratorAction[], done: Done): void {
    let finished = false;
    for (const child of children) {
      this.#start(child, () => {
        if (finished) return;
        finished = true;
        done(true); // Task.WhenAny completes with the first task, failed or not
      });
    }
  }

  #schedule(task: Unnumbered, done: Done): number {
    const id = this.#nextId++;
    this.#all.push({ ...task, id } as ScheduledTask);
    this.#open.set(id, done);
    return id;
  }

  #complete(event: HistoryEvent): void {
    const idField = completions[event.EventType];
    if (idField === undefined) return;
    this.#settle(Number(event[idField]), !failures.includes(event.EventType));
  }

  /** A task's first outcome counts; later ones (a canceled timer firing after all) change nothing. */
  #settle(id: number, ok: boolean): void {
    const done = this.#open.get(id);
    if (!done) return;
    this.#open.delete(id);
    done(ok);
  }
}
