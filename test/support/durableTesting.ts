/**
 * The one typed door to durable-functions' testing exports, which ship without type declarations. A future
 * durable-functions major changes this file only.
 */
import type { InvocationContext } from "@azure/functions";
import type { OrchestrationHandler } from "durable-functions";
import type { HistoryEvent, OrchestratorState } from "../../local-host/durable/history";

// One definition of the wire shapes, shared with the local host's engine.
export { EventType, type HistoryEvent, type OrchestratorAction, type OrchestratorState } from "../../local-host/durable/history";

export type OrchestratorFunction = (binding: unknown, context: InvocationContext) => Promise<OrchestratorState>;

interface TestingUtils {
  createOrchestrator(fn: OrchestrationHandler): OrchestratorFunction;
  DurableOrchestrationInput: new (
    instanceId: string,
    history: HistoryEvent[],
    input: unknown,
    longRunningTimerIntervalDuration?: string,
    maximumShortTimerDuration?: string,
    defaultHttpAsyncRequestSleepTimeMillseconds?: number,
    schemaVersion?: number,
    isReplaying?: boolean,
  ) => unknown;
  DummyOrchestrationContext: new (functionName?: string, invocationId?: string) => InvocationContext;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const utils = require("durable-functions/lib/src/util/testingUtils") as TestingUtils;

/**
 * ReplaySchema.V3, what the extension announces in `upperSchemaVersionNew` (local-host/durable/engine.ts):
 * `actions` is one list of every action so far.
 */
export const replaySchema = 2;

export function createOrchestrator(fn: OrchestrationHandler): OrchestratorFunction {
  return utils.createOrchestrator(fn);
}

export function orchestrationInput(instanceId: string, history: HistoryEvent[], input: unknown, isReplaying: boolean): unknown {
  return new utils.DurableOrchestrationInput(instanceId, history, input, "3.00:00:00", "6.00:00:00", 30000, replaySchema, isReplaying);
}

export function orchestrationContext(functionName: string): InvocationContext {
  return new utils.DummyOrchestrationContext(functionName, `${functionName}-invocation`);
}
