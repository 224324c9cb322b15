/**
 * Shared by the secrets tests: SPEC section 5 says secret values never appear in errors, so every error these
 * tests catch is checked against every value and password they used.
 */
import { expect } from "vitest";
import { PgVaultError, type ErrorCode } from "../../shared/errors";

export function expectNoSecretIn(err: unknown, secretTexts: readonly string[]): void {
  const error = err instanceof Error ? err : new Error(String(err));
  const surfaces = [error.message, JSON.stringify(error), error.stack ?? ""];
  if (error instanceof PgVaultError) surfaces.push(JSON.stringify(error.toJobError()));
  for (const secret of secretTexts) {
    for (const surface of surfaces) expect(surface).not.toContain(secret);
  }
}

/** Runs `action`, expects a PgVaultError with `code`, checks it for leaks, and returns it for further checks. */
export async function expectPgVaultError(
  action: () => unknown,
  code: ErrorCode,
  secretTexts: readonly string[],
): Promise<PgVaultError> {
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}, but nothing was thrown`).toBeInstanceOf(PgVaultError);
  const error = caught as PgVaultError;
  expect(error.code, error.message).toBe(code);
  expectNoSecretIn(error, secretTexts);
  return error;
}
