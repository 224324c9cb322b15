/**
 * What a restore's pre-flight reports: one finding per thing that would go wrong (or deserves a look), each with a
 * spec error code (SPEC section 9), the object at fault and what to do. A fatal finding fails the restore before
 * anything is created; a dry run (POST .../restore with `dryRun: true`) answers with all of them.
 */
import { PgVaultError, someOf, type ErrorCode } from "../../errors";

export type FindingSeverity = "fatal" | "warning";

export interface PreflightFinding {
  /** Which check found it (stable, for scripts): `serverVersion`, `extensionAvailable`, ... */
  check: string;
  code: ErrorCode;
  severity: FindingSeverity;
  /** The object at fault: `database 'sales'`, `extension 'adminpack'`, `role 'app_owner'`, `server pg2:5432`. */
  object: string;
  message: string;
  recommendedAction: string;
}

/** Findings go into answers, activity results and job errors: their number and length never grow with the database. */
const findingsAtMost = 50;
export const listedAtMost = 20;

export function bounded(findings: readonly PreflightFinding[]): PreflightFinding[] {
  // Fatal first, in check order: the first one is the job's error.
  const ordered = [...findings.filter((f) => f.severity === "fatal"), ...findings.filter((f) => f.severity === "warning")];
  return ordered.slice(0, findingsAtMost);
}

/** The error a real restore fails with when the pre-flight found something fatal: the first fatal finding, naming the others. */
export function fatalError(findings: readonly PreflightFinding[]): PgVaultError | undefined {
  const fatal = findings.filter((f) => f.severity === "fatal");
  const [first, ...others] = fatal;
  if (!first) return undefined;
  const more = others.length > 0 ? ` Pre-flight also found: ${someOf(others.map((f) => `${f.code} (${f.object})`), 5)}.` : "";
  return new PgVaultError(first.code, `${first.message} Nothing was created.${more}`, { recommendedAction: first.recommendedAction });
}

/** A fact-gathering failure with a user error code (no sign-in, secret gone) as the dry run's one finding. */
export function findingOf(error: PgVaultError, object: string, check = "signIn"): PreflightFinding {
  return { check, code: error.code, severity: "fatal", object, message: error.detail, recommendedAction: error.recommendedAction };
}

/** A real restore's pre-flight: throws the first fatal finding's error; otherwise the warnings, for the job log. */
export function passedOrThrow<T extends { findings: PreflightFinding[] }>(result: T): T {
  const error = fatalError(result.findings);
  if (error) throw error;
  return result;
}
