/**
 * Every minute until it is done: gives the jobs of a catalog written before the job index their copies
 * (shared/catalog/jobIndexBackfill.ts), a few minutes at a time; once complete, each tick is one read of the
 * backfill's state (remembered for the worker's life after that). Lists read the old way until then.
 */
import { app, type InvocationContext, type Timer } from "@azure/functions";
import { backfillJobIndex } from "../shared/catalog/jobIndexBackfill";
import { jobIndexBackfilled } from "../shared/catalog/jobIndexState";

/** Well inside any function timeout, and short enough that a deployment's restart loses little. */
const runBudgetMs = 3 * 60_000;

export async function jobIndexBackfillTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  if (await jobIndexBackfilled()) return;
  const started = Date.now();
  const result = await backfillJobIndex(started + runBudgetMs);
  context.log(`job index backfill: ${result.indexed} job rows indexed in ${Date.now() - started} ms; ${result.complete ? "complete, lists now read the index" : "continues at the next tick"}`);
}

app.timer("jobIndexBackfill", { schedule: "0 * * * * *", handler: jobIndexBackfillTimer });
