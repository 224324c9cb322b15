/**
 * Log lines of a job, through the invocation context so the Functions host (and Application Insights) keeps them
 * with the invocation. Every line names the job, instance and operation. Callers pass secret-free text only.
 */
import type { InvocationContext } from "@azure/functions";
import type { JobOperation } from "./domain";

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

export function jobLog(context: InvocationContext, scope: JobScope): JobLog {
  const prefix = `[job=${scope.jobId} instance=${scope.instanceName} operation=${scope.operation}]`;
  return {
    info: (message) => context.log(`${prefix} ${message}`),
    warn: (message) => context.warn(`${prefix} ${message}`),
    error: (message) => context.error(`${prefix} ${message}`),
  };
}
