/**
 * Runs an orchestrator the way the Durable extension does: episode by episode, feeding it its own history through
 * durable-functions' replay, and carrying out the activities it schedules with the real activity functions. A
 * retry policy is honoured as the host does (failed attempts are retried, only the final failure is recorded);
 * retry intervals are not waited out. Durable timers fire at once, and the orchestration's clock (the
 * OrchestratorStarted timestamps that `currentUtcDateTime` follows) jumps to their due time, so hours of polling
 * replay in moments. The recorded history is what the extension would store. A test that needs something to
 * happen while a retry interval would run (a service coming back) does it in `betweenAttempts`.
 */
import { InvocationContext } from "@azure/functions";
import type { OrchestrationHandler } from "durable-functions";
import { stateOfThrownOrchestrator } from "../../local-host/durable/history";
import {
  createOrchestrator,
  EventType,
  orchestrationContext,
  orchestrationInput,
  type HistoryEvent,
  type OrchestratorAction,
  type OrchestratorState,
} from "./durableTesting";

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

const actionType = { CallActivity: 0, CallActivityWithRetry: 1, CreateTimer: 5 } as const;

function event(type: number, fields: Record<string, unknown>, eventId = -1, time = new Date()): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: time.toISOString(), ...fields };
}

export async function runOrchestration(
  handler: OrchestrationHandler,
  options: {
    name: string;
    instanceId: string;
    input: unknown;
    activities: Record<string, ActivityFunction>;
    /** Called after every failed attempt of a retried activity, where the retry interval would be waited out. */
    betweenAttempts?: (failed: FailedAttempt) => Promise<void> | void;
  },
): Promise<OrchestrationRun> {
  const orchestrator = createOrchestrator(handler);
  const history: HistoryEvent[] = [];
  const attempts: ActivityAttempt[] = [];
  const customStatuses: unknown[] = [];
  const logs: string[] = [];
  const logHandler = (_level: string, ...args: unknown[]) => logs.push(args.map(String).join(" "));
  let done = 0;
  /** How far the orchestration's clock runs ahead of the real one, from timers fired early. */
  let clockSkewMs = 0;
  const orchestrationNow = () => new Date(Date.now() + clockSkewMs);
  // Event ids count every task the orchestration tracks, including the timers and re-schedules of retries.
  let nextEventId = 0;
  let pending: HistoryEvent[] = [
    event(EventType.OrchestratorStarted, {}),
    event(EventType.ExecutionStarted, { Name: options.name, Input: JSON.stringify(options.input) }),
  ];
  for (let episode = 0; episode < 1000; episode++) {
    history.forEach((e) => (e.IsPlayed = true));
    history.push(...pending);
    const state = await settle(orchestrator(orchestrationInput(options.instanceId, history, options.input, false), orchestrationContext(options.name)));
    customStatuses.push(state.customStatus);
    if (state.isDone) {
      history.push(event(EventType.OrchestratorCompleted, {}));
      return { state, history, attempts, customStatuses, logs };
    }
    const actions: OrchestratorAction[] = state.actions.flat();
    const fresh = actions.slice(done);
    done = actions.length;
    if (fresh.length === 0) throw new Error(`orchestrator waits for something the driver cannot provide: ${JSON.stringify(state.actions)}`);
    const scheduled: HistoryEvent[] = [];
    const results: HistoryEvent[] = [];
    for (const action of fresh) {
      if (action.actionType === actionType.CreateTimer) {
        // durable-functions hands the due time as a Date; the extension records it as an ISO string.
        const fireAt = new Date(action.fireAt ?? orchestrationNow()).toISOString();
        scheduled.push(event(EventType.TimerCreated, { FireAt: fireAt }, nextEventId));
        results.push(event(EventType.TimerFired, { TimerId: nextEventId, FireAt: fireAt }));
        clockSkewMs = Math.max(clockSkewMs, Date.parse(fireAt) - Date.now());
        nextEventId += 1;
        continue;
      }
      if (action.actionType !== actionType.CallActivity && action.actionType !== actionType.CallActivityWithRetry) {
        throw new Error(`action type ${action.actionType} is not supported by the replay driver`);
      }
      scheduled.push(event(EventType.TaskScheduled, { Name: action.functionName }, nextEventId));
      const outcome = await runActivity(action, nextEventId, options.activities, attempts, logHandler, options.betweenAttempts);
      results.push(...outcome.events);
      nextEventId = outcome.nextEventId;
    }
    // The episode that scheduled the tasks ends; the next one starts with their results.
    history.push(...scheduled, event(EventType.OrchestratorCompleted, {}));
    pending = [event(EventType.OrchestratorStarted, {}, -1, orchestrationNow()), ...results];
  }
  throw new Error("orchestration did not finish within 1000 episodes");
}

/**
 * Carries out one scheduled activity with its retry policy, as the extension records it: each failed attempt is
 * followed by a retry timer (created and fired), and a new TaskScheduled when attempts remain, every one of them
 * taking the next event id, which is how durable-functions' RetryableTask replays them.
 */
async function runActivity(
  action: OrchestratorAction,
  firstEventId: number,
  activities: Record<string, ActivityFunction>,
  attempts: ActivityAttempt[],
  logHandler: (level: string, ...args: unknown[]) => void,
  betweenAttempts?: (failed: FailedAttempt) => Promise<void> | void,
): Promise<{ events: HistoryEvent[]; nextEventId: number }> {
  const name = action.functionName ?? "";
  const activity = activities[name];
  if (!activity) throw new Error(`no activity registered as '${name}'`);
  const maxAttempts = action.actionType === actionType.CallActivityWithRetry ? (action.retryOptions?.maxNumberOfAttempts ?? 1) : 1;
  const events: HistoryEvent[] = [];
  let taskId = firstEventId;
  for (let attempt = 1; ; attempt++) {
    const context = new InvocationContext({ functionName: name, invocationId: `${name}-${taskId}`, logHandler });
    try {
      // The host hands activities their input after a JSON round trip.
      const input = JSON.parse(JSON.stringify(action.input ?? null)) as never;
      const result = await activity(input, context);
      attempts.push({ name, attempt });
      events.push(event(EventType.TaskCompleted, { TaskScheduledId: taskId, Result: JSON.stringify(result ?? null) }));
      return { events, nextEventId: taskId + 1 };
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      attempts.push({ name, attempt, error: error.message });
      events.push(event(EventType.TaskFailed, { TaskScheduledId: taskId, Reason: error.message, Details: error.stack ?? "" }));
      if (action.actionType !== actionType.CallActivityWithRetry) return { events, nextEventId: taskId + 1 };
      await betweenAttempts?.({ name, attempt, error: error.message, willRetry: attempt < maxAttempts });
      // RetryableTask waits for a retry timer after every failure, the last one included, before it gives up.
      const timerId = taskId + 1;
      const fireAt = new Date().toISOString();
      events.push(event(EventType.TimerCreated, { FireAt: fireAt }, timerId), event(EventType.TimerFired, { TimerId: timerId, FireAt: fireAt }));
      if (attempt >= maxAttempts) return { events, nextEventId: timerId + 1 };
      events.push(event(EventType.TaskScheduled, { Name: name }, timerId + 1));
      taskId = timerId + 1;
    }
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
