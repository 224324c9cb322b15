/**
 * How activities report to orchestrators. User errors come back as a value, so they fail the job at once;
 * transient and unexpected errors are thrown, so `callActivityWithRetry` retries them (Durable JS retry policies
 * cannot filter by error type). Either way the error is a spec code with a secret-free message.
 */
import { PgVaultError, type JobError } from "./errors";

export type ActivityOutcome<T> = { ok: true; value: T } | { ok: false; error: JobError };

export async function asOutcome<T>(work: () => Promise<T>): Promise<ActivityOutcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    if (err instanceof PgVaultError && !err.transient) return { ok: false, error: err.toJobError() };
    throw err;
  }
}
