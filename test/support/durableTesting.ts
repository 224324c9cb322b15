/**
 * The one typed door to durable-functions' testing exports, which ship without type declarations. A future
 * durable-functions major changes this file only.
 */
import type { InvocationContext } from "@azure/functions";
import type { OrchestrationHandler } from "durable-functions";

/** History events as the Durable extension hands them to the worker (PascalCase, numeric EventType). */
export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
} as const;

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

/** Action types the orchestrator answers with (CallActivity 0, CallActivityWithRetry 1, ...). */
export interface OrchestratorAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: { firstRetryIntervalInMilliseconds: number; maxNumberOfAttempts: number; backoffCoefficient?: number };
}

export interface OrchestratorState {
  isDone: boolean;
  actions: OrchestratorAction[][];
  output: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion: number;
}

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

/** ReplaySchema.V4: `actions` is one list of every action so far, as the current extension uses. */
export const replaySchema = 3;

export function createOrchestrator(fn: OrchestrationHandler): OrchestratorFunction {
  return utils.createOrchestrator(fn);
}

export function orchestrationInput(instanceId: string, history: HistoryEvent[], input: unknown, isReplaying: boolean): unknown {
  return new utils.DurableOrchestrationInput(instanceId, history, input, "3.00:00:00", "6.00:00:00", 30000, replaySchema, isReplaying);
}

export function orchestrationContext(functionName: string): InvocationContext {
  return new utils.DummyOrchestrationContext(functionName, `${functionName}-invocation`);
}
