/**
 * Log lines of a job, through the invocation context so the Functions host (and Application Insights) keeps them
 * with the invocation. Every line names the job, instance and operation. Callers pass secret-free text only.
 *
 * The scope is a text prefix, not structured properties: the v4 worker's `context.log(...args)` formats its
 * arguments into one message (util.format) before it hands them to the host, so an object argument would arrive
 * as text anyway. In Application Insights the line is a `traces` row whose message starts with the prefix, and
 * whose customDimensions carry what the host adds (InvocationId, Category `Function.<name>.User`, LogLevel);
 * `traces | where message startswith "[job=<id> "` finds every line of a job.
 */
import type { InvocationContext } from "@azure/functions";
import type { JobOperation } from "../domain";

export interface JobScope {
  jobId: string;
  instanceName: string;
  operation: JobOperation;
}

export interface JobLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** `[job=<id> instance=<name> operation=<operation>]`, for the lines that cannot use `jobLog`. */
export function jobLogPrefix(scope: JobScope): string {
  return `[job=${scope.jobId} instance=${scope.instanceName} operation=${scope.operation}]`;
}

export function jobLog(context: InvocationContext, scope: JobScope): JobLog {
  const prefix = jobLogPrefix(scope);
  return {
    info: (message) => context.log(`${prefix} ${message}`),
    warn: (message) => context.warn(`${prefix} ${message}`),
    error: (message) => context.error(`${prefix} ${message}`),
  };
}
