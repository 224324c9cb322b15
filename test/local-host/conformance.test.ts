/**
 * Conformance of the local host's durable engine and of the replay driver the orchestrator tests use, with the
 * Durable extension as it runs in Azure: one table of scenarios (test/local-host/conformance-app), each run
 * through both. Each scenario's expected history is written here by hand from the extension's rules, each rule
 * citing the source it was read from:
 * - [ids] every scheduled activity, timer and sub-orchestration takes the next id of one counter; external events
 *   take none (Azure/durabletask src/DurableTask.Core/TaskOrchestrationContext.cs: `idCounter++` in
 *   ScheduleTaskInternal, CreateTimer, CreateSubOrchestrationInstanceCore).
 * - [sequential] the actions are carried out one after another, each awaited before the next is scheduled, its
 *   failure swallowed; WhenAll/WhenAny schedule their children together and are awaited as one, WhenAll until every
 *   child has finished (Azure/azure-functions-durable-extension
 *   src/WebJobs.Extensions.DurableTask/Listener/OutOfProcOrchestrationShim.cs, ProcessAsyncActionsV2 and
 *   InvokeAPIFromAction; .NET Task.WhenAll).
 * - [retry] attempt, timer, attempt, ... (Azure/durabletask src/DurableTask.Core/RetryInterceptor.cs), and after the
 *   last failed attempt one more timer, due at once, before the failure reaches the orchestrator (Azure/durabletask
 *   PR #661 "Fix retry interceptor regression").
 * - [failure] a failed activity reaches the orchestrator as "Activity function '<name>' failed: <message>"
 *   (src/WebJobs.Extensions.DurableTask/Listener/TaskActivityShim.cs, RunAsync).
 * - [continueAsNew] a new execution starts with the new input and its own history, ids from 0 (DurableTask.Core
 *   TaskOrchestrationDispatcher: ContinueAsNew starts a new ExecutionStartedEvent and runtime state).
 *
 * Histories are compared as what decides replay: the scheduling events with their ids, in order, and the
 * completions with the ids they answer, in order; the engine may group messages into episodes differently
 * (results arrive one by one), which durable-functions does not see. One activity runs at a time on the host
 * (conformance-app/host.json), so results arrive in the order their tasks were scheduled, as the driver delivers them.
 */
import { createRequire } from "node:module";
import path from "node:path";
import type { OrchestrationHandler } from "durable-functions";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import type { RunningHost } from "../../local-host/host";
import { EventType, type HistoryEvent } from "../support/durableTesting";
import { compiledHost, waitUntil } from "../support/localHost";
import { runOrchestration, type ActivityFunction } from "../support/replayDriver";

const appRoot = path.join(__dirname, "conformance-app");
const webhooks = "/runtime/webhooks/durabletask";

interface ConformanceApp {
  activities: Record<string, ActivityFunction>;
  orchestrations: Record<string, OrchestrationHandler>;
  clearAttempts(): void;
}

interface Expected {
  scheduled: string[];
  completions: string[];
  output: unknown;
}

interface Scenario extends Expected {
  name: string;
  input?: unknown;
  /** Raised when the orchestration waits for it (its custom status says `waiting`). */
  event?: { name: string; data: unknown };
}

const scenarios: Scenario[] = [
  {
    name: "plainActivities",
    // [ids] [sequential]
    scheduled: ["TaskScheduled 0 echo", "TaskScheduled 1 echo"],
    completions: ["TaskCompleted 0", "TaskCompleted 1"],
    output: [1, 2],
  },
  {
    name: "exhaustedRetryThenMore",
    // [retry]: three attempts (0, 2, 4) with a timer after each (1, 3, 5), the last due at once; only then does
    // the failure reach the orchestrator [failure], which goes on with an activity (6) and a timer (7) [ids].
    scheduled: ["TaskScheduled 0 fail", "TimerCreated 1", "TaskScheduled 2 fail", "TimerCreated 3", "TaskScheduled 4 fail", "TimerCreated 5", "TaskScheduled 6 echo", "TimerCreated 7"],
    completions: ["TaskFailed 0", "TimerFired 1", "TaskFailed 2", "TimerFired 3", "TaskFailed 4", "TimerFired 5", "TaskCompleted 6", "TimerFired 7"],
    output: { caught: "Activity function 'fail' failed: boom always", after: "after" },
  },
  {
    name: "retrySucceedsOnLast",
    // [retry]: no timer after the attempt that succeeds; the next activity takes the next id (5).
    scheduled: ["TaskScheduled 0 flaky", "TimerCreated 1", "TaskScheduled 2 flaky", "TimerCreated 3", "TaskScheduled 4 flaky", "TaskScheduled 5 echo"],
    completions: ["TaskFailed 0", "TimerFired 1", "TaskFailed 2", "TimerFired 3", "TaskCompleted 4", "TaskCompleted 5"],
    output: { count: 3, after: "after" },
  },
  {
    name: "fanOutOneFails",
    // [sequential]: the branches take 0-2 together; the orchestrator catches the failure at once, but the
    // activity after the fan-out is scheduled only once the last branch has finished (Task.WhenAll).
    scheduled: ["TaskScheduled 0 echo", "TaskScheduled 1 fail", "TaskScheduled 2 echo", "TaskScheduled 3 echo"],
    completions: ["TaskCompleted 0", "TaskFailed 1", "TaskCompleted 2", "TaskCompleted 3"],
    output: { caught: "Activity function 'fail' failed: boom b", after: "after" },
  },
  {
    name: "fanOutWithRetry",
    // [ids] [retry]: the retry timer of branch 0 is created when its failure is processed (2), after both
    // branches took their ids; the second attempt takes the next (3).
    scheduled: ["TaskScheduled 0 flaky", "TaskScheduled 1 echo", "TimerCreated 2", "TaskScheduled 3 flaky"],
    completions: ["TaskFailed 0", "TaskCompleted 1", "TimerFired 2", "TaskCompleted 3"],
    output: [2, "b"],
  },
  {
    name: "anyFirstWins",
    // [ids]: the external event of the Task.any takes no id; [sequential]: WhenAny ends with its first child.
    scheduled: ["TaskScheduled 0 echo", "TaskScheduled 1 echo"],
    completions: ["TaskCompleted 0", "TaskCompleted 1"],
    output: { winner: "first", after: "after" },
  },
  {
    name: "timerThenEvent",
    // [ids]: the timer takes 0, the event none, the activity after it 1.
    event: { name: "approval", data: { by: "ops" } },
    scheduled: ["TimerCreated 0", "TaskScheduled 1 echo"],
    completions: ["TimerFired 0", "EventRaised approval", "TaskCompleted 1"],
    output: { approval: { by: "ops" }, after: { by: "ops" } },
  },
  {
    name: "parentOfChild",
    // [ids]: a sub-orchestration takes an id of the parent's counter like a task.
    scheduled: ["TaskScheduled 0 echo", "SubOrchestrationInstanceCreated 1 child"],
    completions: ["TaskCompleted 0", "SubOrchestrationInstanceCompleted 1"],
    output: { before: "before", child: { child: { tag: "x" } } },
  },
  {
    name: "counter",
    input: 0,
    // [continueAsNew]: the last execution's own history, its ids from 0.
    scheduled: ["TaskScheduled 0 echo"],
    completions: ["TaskCompleted 0"],
    output: "done at 2",
  },
];

const typeNames = Object.fromEntries(Object.entries(EventType).map(([name, type]) => [type, name]));
const schedulingTypes: number[] = [EventType.TaskScheduled, EventType.TimerCreated, EventType.SubOrchestrationInstanceCreated];
const completionTypes: number[] = [EventType.TaskCompleted, EventType.TaskFailed, EventType.TimerFired, EventType.EventRaised, EventType.SubOrchestrationInstanceCompleted, EventType.SubOrchestrationInstanceFailed];

/** What decides replay: the scheduling events with their ids and the completions with the ids they answer. */
function replayView(history: HistoryEvent[], output: unknown): Expected {
  const scheduled = history
    .filter((e) => schedulingTypes.includes(e.EventType))
    .map((e) => [typeNames[e.EventType], e.EventId, e.Name].filter((part) => part !== undefined).join(" "));
  const completions = history
    .filter((e) => completionTypes.includes(e.EventType))
    .map((e) => `${typeNames[e.EventType]} ${String(e.TaskScheduledId ?? e.TimerId ?? e.Name)}`);
  return { scheduled, completions, output };
}

const expectedOf = ({ scheduled, completions, output }: Scenario): Expected => ({ scheduled, completions, output });

let host: RunningHost;
let app: ConformanceApp;

beforeAll(async () => {
  host = await compiledHost().startHost({
    appRoot,
    port: 0,
    settings: { AzureWebJobsStorage: inject("vaultConnectionString"), CONFORMANCE_HUB: `conformance${Date.now()}` },
    log: () => undefined,
  });
  // The very module the host loaded (Node's own require cache), so the driver runs the same handlers.
  app = createRequire(__filename)(path.join(appRoot, "functions", "scenarios.js")) as ConformanceApp;
});
afterAll(() => host?.stop());

async function call(method: string, route: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${host.origin}${webhooks}${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: response.status, json: (await response.json().catch(() => ({}))) as Record<string, unknown> };
}

async function runOnEngine(scenario: Scenario): Promise<Expected> {
  const id = `engine-${scenario.name}-${Date.now()}`;
  expect((await call("POST", `/orchestrators/${scenario.name}/${id}`, scenario.input ?? null)).status).toBe(202);
  if (scenario.event) {
    await waitUntil(async () => ((await call("GET", `/instances/${id}`)).json.customStatus === "waiting" ? true : undefined), 30_000, `${id} waiting`);
    expect((await call("POST", `/instances/${id}/raiseEvent/${scenario.event.name}`, scenario.event.data)).status).toBe(202);
  }
  const done = await waitUntil(async () => {
    const { json } = await call("GET", `/instances/${id}?showHistory=true&showHistoryOutput=true`);
    return ["Completed", "Failed", "Terminated"].includes(String(json.runtimeStatus)) ? json : undefined;
  }, 30_000, `${id} finished`);
  expect(done.runtimeStatus).toBe("Completed");
  return replayView(done.historyEvents as HistoryEvent[], done.output);
}

async function runOnDriver(scenario: Scenario): Promise<Expected> {
  const run = await runOrchestration(app.orchestrations[scenario.name]!, {
    name: scenario.name,
    instanceId: `driver-${scenario.name}`,
    input: scenario.input ?? null,
    activities: app.activities,
    orchestrations: app.orchestrations,
    events: scenario.event ? [scenario.event] : [],
  });
  expect(run.state.error).toBeUndefined();
  return replayView(run.history, run.state.output);
}

describe("the local host and the replay driver replay as the Durable extension does", () => {
  test.each(scenarios)("$name: the replay driver's history is the extension's", async (scenario) => {
    app.clearAttempts();
    expect(await runOnDriver(scenario)).toEqual(expectedOf(scenario));
  });

  test.each(scenarios)("$name: the local host's history is the extension's", async (scenario) => {
    app.clearAttempts();
    expect(await runOnEngine(scenario)).toEqual(expectedOf(scenario));
  });
});
