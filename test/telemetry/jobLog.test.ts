/**
 * Job log lines reach the Functions host through the invocation context, one text message per line, each starting
 * with the job's scope, so `traces | where message startswith "[job=<id> "` finds every line of a job: from the
 * first (the scheduler starting it) to the last.
 */
import { InvocationContext } from "@azure/functions";
import { describe, expect, test } from "vitest";
import { schedulerPort } from "../../functions/scheduler";
import { jobLog, jobLogPrefix } from "../../shared/jobs/jobLog";
import type { DueBackup } from "../../shared/scheduler/dueBackups";
import { startDurableClientStandIn } from "../support/durableClientStandIn";

test("when a job logs at each level, then every line carries job, instance and operation and keeps its level", () => {
  const lines: { level: string; args: unknown[] }[] = [];
  const context = new InvocationContext({
    functionName: "dumpDatabase",
    invocationId: "invocation-1",
    logHandler: (level, ...args) => lines.push({ level, args }),
  });
  const log = jobLog(context, { jobId: "backup-sales-prod-20260104T023000Z", instanceName: "sales-prod", operation: "Backup" });

  log.info("stored 123 bytes");
  log.warn("could not record progress");
  log.error("upload failed");

  const prefix = "[job=backup-sales-prod-20260104T023000Z instance=sales-prod operation=Backup]";
  expect(lines).toEqual([
    { level: "information", args: [`${prefix} stored 123 bytes`] },
    { level: "warning", args: [`${prefix} could not record progress`] },
    { level: "error", args: [`${prefix} upload failed`] },
  ]);
  expect(jobLogPrefix({ jobId: "retention-20260104", instanceName: "*", operation: "Retention" })).toBe("[job=retention-20260104 instance=* operation=Retention]");
});

describe("the scheduler's starts", () => {
  const due: DueBackup = {
    instanceName: "sales-prod",
    datasource: { type: "database", host: "127.0.0.1", port: 5432, database: "sales", secretRef: "env:NONE" },
    slot: new Date("2026-01-04T02:30:00Z"),
    jobId: "scheduled-sales-prod-20260104T0230Z",
  };
  const scope = "[job=scheduled-sales-prod-20260104T0230Z instance=sales-prod operation=Backup]";

  test("when a scheduled backup starts, then its first log line carries the job's scope", async () => {
    const durable = await startDurableClientStandIn();
    try {
      const logs: string[] = [];
      const { client, context } = durable.client("scheduler", logs);
      await schedulerPort(client, context).start(due);
      expect(durable.started).toMatchObject([{ name: "backup", instanceId: due.jobId }]);
      expect(logs).toEqual([`${scope} scheduled backup of slot 2026-01-04T02:30:00.000Z started`]);
    } finally {
      await durable.close();
    }
  });

  test("when a scheduled backup cannot be started, then the failure is logged with the job's scope and still thrown (the tick counts it)", async () => {
    const durable = await startDurableClientStandIn();
    const logs: string[] = [];
    const { client, context } = durable.client("scheduler", logs);
    await durable.close();

    await expect(schedulerPort(client, context).start(due)).rejects.toBeDefined();
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^\[job=scheduled-sales-prod-20260104T0230Z instance=sales-prod operation=Backup\] scheduled backup of slot 2026-01-04T02:30:00.000Z could not be started \(\w+\); a later tick retries$/);
  });
});
