/**
 * Runs an orchestrator the way the Durable extension does: episode by episode, feeding it its own history through
 * durable-functions' replay, and carrying out what it schedules with the real activity functions. Which tasks are
 * scheduled with which ids (retries included: attempt, timer, attempt, and a final timer after the last attempt)
 * is decided by the local host's model of the extension (local-host/durable/shim.ts), the same the engine uses;
 * test/local-host/conformance.test.ts holds both to histories written by hand from the extension's sources.
 * Everything an episode schedules is carried out before the next episode, which gets all the results at once.
 * Durable timers (retry timers too) fire at once, and the orchestration's clock (the OrchestratorStarted
 * timestamps that `currentUtcDateTime` follows) jumps to their due time, so hours of polling replay in moments.
 * A test that needs something to happen while a retry interval would run (a service coming back) does it in
 * `betweenAttempts`.
 */
import { InvocationContext } from "@azure/functions";
import type { OrchestrationHandler } from "durable-functions";
import { historyEvent, stateOfThrownOrchestrator } from "../../local-host/durable/history";
import { replayActions, scheduledEvent, type ScheduledTask } from "../../local-host/durable/shim";
import { createOrchestrator, EventType, orchestrationContext, orchestrationInput, type HistoryEvent, type OrchestratorState } from "./durableTesting";

export type ActivityFunction = (input: never, context: InvocationContext) => unknown;

export interface ActivityAttempt {
  name: string;
  attempt: number;
  error?: string;
}

/** A failed attempt of an activity called with a retry policy, as `betweenAttempts` sees it. */
export interface FailedAttempt extends ActivityAttempt {
  error: string;
  /** Another attempt follows (after the policy's interval, which the driver does not wait out). */
  willRetry: boolean;
}

export interface OrchestrationRun {
  state: OrchestratorState;
  history: HistoryEvent[];
  attempts: ActivityAttempt[];
  customStatuses: unknown[];
  logs: string[];
}

export interface RunOptions {
  name: string;
  instanceId: string;
  input: unknown;
  activities: Record<string, ActivityFunction>;
  /** Called after every failed attempt of a retried activity, where the retry interval would be waited out. */
  betweenAttempts?: (failed: FailedAttempt) => Promise<void> | void;
  /** Raised one after the other, each when the orchestration has nothing else to wait for. */
  events?: { name: string; data: unknown }[];
  /** Sub-orchestrations it may call, run to their end by this driver. */
  orchestrations?: Record<string, OrchestrationHandler>;
}

export async function runOrchestration(handler: OrchestrationHandler, options: RunOptions): Promise<OrchestrationRun> {
  const orchestrator = createOrchestrator(handler);
  const history: HistoryEvent[] = [];
  const attempts: ActivityAttempt[] = [];
  const customStatuses: unknown[] = [];
  const logs: string[] = [];
  const logHandler = (_level: string, ...args: unknown[]) => logs.push(args.map(String).join(" "));
  /** How far the orchestration's clock runs ahead of the real one, from timers fired early. */
  let clockSkewMs = 0;
  const orchestrationNow = () => new Date(Date.now() + clockSkewMs);
  const events = [...(options.events ?? [])];
  let input = options.input;
  const started = () => historyEvent(EventType.ExecutionStarted, { Name: options.name, Input: JSON.stringify(input) });
  let fresh: HistoryEvent[] = [started()];
  for (let episode = 0; episode < 1000; episode++) {
    const now = orchestrationNow();
    history.forEach((e) => (e.IsPlayed = true));
    history.push(historyEvent(EventType.OrchestratorStarted, {}, -1, now), ...fresh);
    const state = await settle(orchestrator(orchestrationInput(options.instanceId, history, input, false), orchestrationContext(options.name)));
    customStatuses.push(state.customStatus);
    const shim = replayActions(options.instanceId, history, state.actions.flat());
    history.push(...shim.scheduled.map((task) => scheduledEvent(task, now)), historyEvent(EventType.OrchestratorCompleted, {}, -1, now));
    if (shim.unsupported) throw new Error(shim.unsupported);
    if (shim.settled && state.isDone && shim.continueAsNew && state.error === undefined) {
      // A new execution with the new input; the history starts over, as the extension keeps only the current one.
      input = shim.continueAsNew.input;
      history.length = 0;
      fresh = [started()];
      continue;
    }
    if (shim.settled && (state.isDone || state.error !== undefined)) return { state, history, attempts, customStatuses, logs };
    fresh = [];
    for (const task of shim.scheduled) fresh.push(await carryOut(task, options, attempts, logHandler, (fireAt) => (clockSkewMs = Math.max(clockSkewMs, Date.parse(fireAt) - Date.now()))));
    const event = fresh.length === 0 ? events.shift() : undefined;
    if (event) fresh.push(historyEvent(EventType.EventRaised, { Name: event.name, Input: JSON.stringify(event.data) }));
    if (fresh.length === 0) throw new Error(`orchestrator waits for something the driver cannot provide: ${JSON.stringify(state.actions)}`);
  }
  throw new Error("orchestration did not finish within 1000 episodes");
}

/** A scheduled task carried out at once: its outcome as the next episode's message. */
async function carryOut(
  task: ScheduledTask,
  options: RunOptions,
  attempts: ActivityAttempt[],
  logHandler: (level: string, ...args: unknown[]) => void,
  jumpClockTo: (fireAt: string) => void,
): Promise<HistoryEvent> {
  if (task.kind === "activity") return runActivity(task, options, attempts, logHandler);
  if (task.kind === "timer") {
    jumpClockTo(task.fireAt);
    return historyEvent(EventType.TimerFired, { TimerId: task.id, FireAt: task.fireAt });
  }
  const child = options.orchestrations?.[task.name];
  if (!child) throw new Error(`no sub-orchestration registered as '${task.name}'`);
  const run = await runOrchestration(child, { ...options, name: task.name, instanceId: task.instanceId, input: task.input, events: [] });
  attempts.push(...run.attempts);
  return run.state.error === undefined
    ? historyEvent(EventType.SubOrchestrationInstanceCompleted, { TaskScheduledId: task.id, Result: JSON.stringify(run.state.output ?? null) })
    : historyEvent(EventType.SubOrchestrationInstanceFailed, { TaskScheduledId: task.id, Reason: `Orchestrator function '${task.name}' failed: ${run.state.error}`, Details: "" });
}

/** One attempt of a scheduled activity, recorded as the extension records its outcome (TaskActivityShim). */
async function runActivity(
  task: Extract<ScheduledTask, { kind: "activity" }>,
  options: RunOptions,
  attempts: ActivityAttempt[],
  logHandler: (level: string, ...args: unknown[]) => void,
): Promise<HistoryEvent> {
  const activity = options.activities[task.name];
  if (!activity) throw new Error(`no activity registered as '${task.name}'`);
  const context = new InvocationContext({ functionName: task.name, invocationId: `${task.name}-${task.id}`, logHandler });
  try {
    // The host hands activities their input after a JSON round trip.
    const result = await activity(JSON.parse(JSON.stringify(task.input)) as never, context);
    attempts.push({ name: task.name, attempt: task.attempt });
    return historyEvent(EventType.TaskCompleted, { TaskScheduledId: task.id, Result: JSON.stringify(result ?? null) });
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    attempts.push({ name: task.name, attempt: task.attempt, error: error.message });
    if (task.maxAttempts > 1) await options.betweenAttempts?.({ name: task.name, attempt: task.attempt, error: error.message, willRetry: task.attempt < task.maxAttempts });
    return historyEvent(EventType.TaskFailed, { TaskScheduledId: task.id, Reason: `Activity function '${task.name}' failed: ${error.message}`, Details: error.stack ?? "" });
  }
}

/** An orchestrator that throws rejects with its state attached; the extension records it as failed. */
async function settle(result: Promise<OrchestratorState>): Promise<OrchestratorState> {
  try {
    return await result;
  } catch (err) {
    const state = stateOfThrownOrchestrator(err);
    if (!state) throw err;
    return state;
  }
}

/** Replays a finished history in one go, as after a host restart: the orchestrator must reach the same end. */
export async function replayFinished(
  handler: OrchestrationHandler,
  options: { name: string; instanceId: string; input: unknown; history: HistoryEvent[] },
): Promise<OrchestratorState> {
  const history = options.history.map((e) => ({ ...e, IsPlayed: true }));
  return settle(createOrchestrator(handler)(orchestrationInput(options.instanceId, history, options.input, true), orchestrationContext(options.name)));
}
