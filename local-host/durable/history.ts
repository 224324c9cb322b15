/**
 * History events and orchestrator actions in the shapes the Durable extension exchanges with durable-functions
 * (PascalCase events with numeric EventType; camelCase actions with numeric actionType).
 */

export const EventType = {
  ExecutionStarted: 0,
  ExecutionCompleted: 1,
  ExecutionTerminated: 2,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  SubOrchestrationInstanceCreated: 7,
  SubOrchestrationInstanceCompleted: 8,
  SubOrchestrationInstanceFailed: 9,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
  EventRaised: 15,
} as const;

export const ActionType = {
  CallActivity: 0,
  CallActivityWithRetry: 1,
  CallSubOrchestrator: 2,
  CallSubOrchestratorWithRetry: 3,
  ContinueAsNew: 4,
  CreateTimer: 5,
  WaitForExternalEvent: 6,
  CallEntity: 7,
  CallHttp: 8,
  WhenAny: 11,
  WhenAll: 12,
} as const;

export interface HistoryEvent {
  EventType: number;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  [field: string]: unknown;
}

export interface RetryOptions {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface OrchestratorAction {
  actionType: number;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptions;
  fireAt?: string;
  isCanceled?: boolean;
  instanceId?: string;
  externalEventName?: string;
  /** The children of a `WhenAll` or `WhenAny`. */
  compoundActions?: OrchestratorAction[];
}

export interface OrchestratorState {
  isDone: boolean;
  actions: OrchestratorAction[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
}

export function historyEvent(type: number, fields: Record<string, unknown> = {}, eventId = -1, now = new Date()): HistoryEvent {
  return { EventType: type, EventId: eventId, IsPlayed: false, Timestamp: now.toISOString(), ...fields };
}

const outOfProcMarker = "$OutOfProcData$:";

/**
 * The state of an orchestrator that threw: durable-functions rejects with the state JSON appended to the
 * message after `$OutOfProcData$:` (its `error` holds the message). Undefined when the marker is absent.
 */
export function stateOfThrownOrchestrator(err: unknown): OrchestratorState | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const at = message.indexOf(outOfProcMarker);
  if (at < 0) return undefined;
  const state = JSON.parse(message.slice(at + outOfProcMarker.length)) as OrchestratorState;
  return { ...state, isDone: true, error: state.error ?? message.slice(0, at).trim() };
}
