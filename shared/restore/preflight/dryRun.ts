/**
 * `POST .../restore` with `dryRun: true`: the pre-flight a real restore runs first, answered within the request.
 * It signs in to the target (the secret is resolved here, in the function that uses it, as activities do), reads
 * the archive's head and the target's catalogs, and creates nothing. Bounded in time: connections time out after
 * 15 s, catalog statements after 15 s (targetFacts.ts), and the whole run after `dryRunTimeoutMs`. The answer holds
 * findings and the server's address, never credentials.
 */
import type { RecoveryPoint, RestoreTarget } from "../../domain";
import { PgVaultError } from "../../errors";
import { connectionParamsFor } from "../../postgres/connectionParams";
import { asServerPoint, databaseTargetOf } from "../serverRestore";
import { findingOf, type PreflightFinding } from "./findings";
import { preflightDatabaseRestore, preflightServerRestore } from "./preflight";

/** Well inside the Functions HTTP limit (230 s on the load balancer), and long enough for a slow vault read of the head. */
export const dryRunTimeoutMs = 90_000;

export interface DryRunAnswer {
  dryRun: true;
  recoveryPointId: string;
  /** True when no finding is fatal: a real restore with this body would start restoring. */
  passed: boolean;
  /** The server the sign-in is bound to; absent when signing in failed (the finding says why). */
  server?: { host: string; port: number };
  findings: PreflightFinding[];
}

type CheckedTarget = Exclude<RestoreTarget, { type: "blob" }>;

async function preflightOf(rp: RecoveryPoint, target: CheckedTarget) {
  if (target.type === "database") {
    if (rp.format !== "pg_dump-custom") throw new PgVaultError("SystemErrorUnexpected", `Recovery point ${rp.id} is a Flexible Server backup.`);
    return preflightDatabaseRestore(await connectionParamsFor(target), rp, target);
  }
  return preflightServerRestore(await connectionParamsFor(databaseTargetOf(target, "postgres")), asServerPoint(rp), target);
}

function timeout(ms: number): { promise: Promise<never>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PgVaultError("UserErrorServerUnreachable", `The dry run did not finish within ${ms / 1000} s (target server or vault too slow to answer).`, { transient: true })), ms);
  });
  return { promise, clear: () => clearTimeout(timer) };
}

/**
 * The findings for restoring `rp` to `target`. A user error before any check could run (the secret is missing, the
 * sign-in fails, the key is gone) is the one fatal finding; the vault or the app failing is an error (503).
 */
export async function dryRunRestore(rp: RecoveryPoint, target: CheckedTarget, timeoutMs = dryRunTimeoutMs): Promise<DryRunAnswer> {
  const limit = timeout(timeoutMs);
  try {
    const { server, findings } = await Promise.race([preflightOf(rp, target), limit.promise]);
    return { dryRun: true, recoveryPointId: rp.id, passed: !findings.some((f) => f.severity === "fatal"), server, findings };
  } catch (err) {
    if (!(err instanceof PgVaultError) || !err.code.startsWith("UserError")) throw err;
    const object = target.host ? `server ${target.host}${target.port ? `:${target.port}` : ""}` : "the target's secret";
    return { dryRun: true, recoveryPointId: rp.id, passed: false, findings: [findingOf(err, object)] };
  } finally {
    limit.clear();
  }
}
