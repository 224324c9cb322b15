/**
 * GET /api/jobs over many jobs (SPEC section 2): filters by instance, operation, status and start-time range,
 * newest first, and paging through `nextLink` that neither skips nor repeats a job, even when new jobs start
 * between pages. GET /api/jobs/{id} adds the duration.
 */
import { beforeAll, describe, expect, test } from "vitest";
import { getJobById, listJobsHandler } from "../../functions/jobs";
import { updateJob } from "../../shared/catalog/jobRows";
import type { Job } from "../../shared/domain";
import { handled } from "../../shared/http";
import type { JobView } from "../../shared/jobs/jobView";
import { bodyOf, invocation } from "../support/http";
import { HttpRequest } from "@azure/functions";
import { uniqueName } from "../support/testDatabase";

const instances = [uniqueName("jobs-a"), uniqueName("jobs-b"), uniqueName("jobs-c")].map((n) => n.replaceAll("_", "-"));
const base = Date.parse("2031-05-01T00:00:00Z");
const seeded: Job[] = [];

function get(query: string, params: Record<string, string> = {}) {
  const request = new HttpRequest({ method: "GET", url: `http://127.0.0.1:7071/api/jobs${query}`, params });
  return handled(params.id ? getJobById : listJobsHandler)(request, invocation("test"));
}

type Page = { value: JobView[]; nextLink?: string };

async function allPages(query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let next: string | undefined = query;
  let pages = 0;
  while (next !== undefined) {
    const response = await get(next.replace(/^\/api\/jobs/, ""));
    expect(response.status).toBe(200);
    const page = bodyOf<Page>(response);
    ids.push(...page.value.map((job) => job.id));
    pages += 1;
    next = page.nextLink;
  }
  return { ids, pages };
}

/** The lists' order: start time, newest first, then job id (shared/catalog/jobIndex.ts). */
const newestFirst = (jobs: Job[]) => [...jobs].sort((a, b) => b.startTime.localeCompare(a.startTime) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((j) => j.id);

beforeAll(async () => {
  // 240 jobs over 10 days: three instances, every operation and status, some sharing a start second.
  const operations: Job["operation"][] = ["Backup", "Restore", "Retention"];
  const statuses: Job["status"][] = ["Succeeded", "Failed", "InProgress", "Cancelled"];
  for (let i = 0; i < 240; i++) {
    const startTime = new Date(base + Math.floor(i / 2) * 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const status = statuses[i % 4]!;
    const job: Job = {
      id: `jobs-api-${instances[0]}-${String(i).padStart(3, "0")}`,
      operation: operations[i % 3]!,
      trigger: i % 2 ? "Scheduled" : "OnDemand",
      instanceName: instances[i % 3]!,
      status,
      startTime,
      phase: status === "InProgress" ? "Uploading" : "Done",
      bytes: i * 1000,
      ...(status === "InProgress" ? {} : { endTime: new Date(Date.parse(startTime) + 90_000).toISOString().replace(/\.\d{3}Z$/, "Z") }),
    };
    seeded.push(job);
  }
  for (let i = 0; i < seeded.length; i += 20) await Promise.all(seeded.slice(i, i + 20).map(({ id, ...fields }) => updateJob(id, fields)));
}, 120_000);

describe("listing jobs", () => {
  test("when one instance's jobs are paged 25 at a time, then every job comes exactly once, newest first", async () => {
    const expected = newestFirst(seeded.filter((j) => j.instanceName === instances[1]));
    const { ids, pages } = await allPages(`?instanceName=${instances[1]}&top=25`);
    expect(ids).toEqual(expected);
    expect(pages).toBe(Math.ceil(expected.length / 25));
  });

  test("when operation, status and a start-time range are combined, then only matching jobs are listed", async () => {
    const from = new Date(base + 24 * 3600_000).toISOString();
    const to = new Date(base + 72 * 3600_000).toISOString();
    const expected = newestFirst(
      seeded.filter((j) => j.operation === "Backup" && j.status === "Failed" && j.startTime >= from.replace(".000", "") && j.startTime < to.replace(".000", "")),
    );
    expect(expected.length).toBeGreaterThan(0);
    const query = `?operation=Backup&status=Failed&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&top=3`;
    const { ids } = await allPages(query);
    expect(ids).toEqual(expected);
    const page = bodyOf<Page>(await get(query));
    expect(page.value.every((j) => j.operation === "Backup" && j.status === "Failed")).toBe(true);
    expect(new URL(page.nextLink!, "http://x").searchParams.get("operation")).toBe("Backup");
  });

  test("when a job starts between two pages, then the next page neither repeats nor skips a job", async () => {
    const instance = instances[2]!;
    const first = bodyOf<Page>(await get(`?instanceName=${instance}&top=30`));
    const newer: Job = { ...seeded.find((j) => j.instanceName === instance)!, id: `jobs-api-${instance}-late`, startTime: "2031-06-01T00:00:00Z" };
    const { id, ...fields } = newer;
    await updateJob(id, fields);
    const rest = await allPages(first.nextLink!);
    const expected = newestFirst(seeded.filter((j) => j.instanceName === instance));
    expect([...first.value.map((j) => j.id), ...rest.ids]).toEqual(expected);
  });

  test.each([
    ["?top=0", "top"],
    ["?top=1001", "top"],
    ["?status=Done", "status"],
    ["?operation=Copy", "operation"],
    ["?from=yesterday", "from"],
    ["?from=2031-05-01T00:00:00", "from"],
    ["?from=2031-05-02T00:00:00Z&to=2031-05-01T00:00:00Z", "to"],
    ["?skipToken=not-a-token", "skipToken"],
  ])("when the query is %s, then 400 names %s", async (query, path) => {
    const response = await get(query);
    expect(response.status).toBe(400);
    expect(bodyOf<{ error: { details: { path: string }[] } }>(response).error.details.map((d) => d.path)).toEqual([path]);
  });
});

describe("reading one job", () => {
  test("when a finished job is read, then it has its phase, bytes, error fields and its duration", async () => {
    const failed = seeded.find((j) => j.status === "Failed")!;
    const response = await get(`/${failed.id}`, { id: failed.id });
    expect(response.status).toBe(200);
    expect(bodyOf(response)).toEqual({ ...failed, durationSeconds: 90 });
  });

  test("when a running job is read, then its duration counts up to now", async () => {
    const id = `jobs-api-${instances[0]}-running`;
    const startTime = new Date(Date.now() - 100_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    await updateJob(id, { operation: "Backup", trigger: "OnDemand", instanceName: instances[0]!, status: "InProgress", phase: "Uploading", startTime, bytes: 0 });
    const view = bodyOf<JobView>(await get(`/${id}`, { id }));
    expect(view.durationSeconds).toBeGreaterThanOrEqual(99);
    expect(view.durationSeconds).toBeLessThan(200);
    expect(view.endTime).toBeUndefined();
  });
});
