/**
 * The compliance report (GET /reports/compliance): every instance's figures for a period (complianceFigures.ts).
 *
 * Reads, whatever the length of the job history: the instances and the policies (one query each; one read each
 * with `instanceName`), then per instance two queries, eight instances at a time: its jobs started in the period
 * (one key range of its partition of the job index, catalog/jobIndex.ts) and its recovery point rows (its own
 * partition). Nothing else is read. Each policy's RPO and slot counts are computed once (complianceFigures.ts,
 * policyTerms), not per instance.
 */
import { getInstance, getPolicy, listInstances, listPolicies } from "../catalog/catalog";
import { listJobs } from "../catalog/jobLists";
import { listRecoveryPoints } from "../catalog/recoveryPointReads";
import type { BackupInstance, BackupPolicy } from "../domain";
import { NotFoundError } from "../errors";
import { mapLimited } from "../mapLimited";
import { isoSeconds } from "../time/isoTime";
import { instanceCompliance, policyTerms, type InstanceCompliance } from "./complianceFigures";

/** The longest period one report covers: a year and a month, so a calendar year's report fits with room either side. */
export const maxReportDays = 400;

export interface ComplianceReport {
  period: { from: string; to: string };
  generatedAt: string;
  value: InstanceCompliance[];
}

async function instancesAndPolicies(instanceName: string | undefined): Promise<{ instances: BackupInstance[]; policies: BackupPolicy[] }> {
  if (instanceName === undefined) {
    const [instances, policies] = await Promise.all([listInstances(), listPolicies()]);
    return { instances: instances.sort((a, b) => a.name.localeCompare(b.name)), policies };
  }
  const instance = await getInstance(instanceName);
  if (!instance) throw new NotFoundError(`Backup instance '${instanceName}' does not exist.`);
  const policy = await getPolicy(instance.policyName);
  return { instances: [instance], policies: policy ? [policy] : [] };
}

/** The report for [from, to) as of `now` (`to` is not after `now`: the handler clamps it). */
export async function complianceReport(from: Date, to: Date, now: Date, instanceName?: string): Promise<ComplianceReport> {
  const { instances, policies } = await instancesAndPolicies(instanceName);
  const termsByPolicy = new Map(policies.map((policy) => [policy.name, policyTerms(policy, now)]));
  const window = { from: from.toISOString(), to: to.toISOString() };
  const value = await mapLimited(instances, 8, async (instance) => {
    const [jobs, points] = await Promise.all([listJobs({ instanceName: instance.name, ...window }), listRecoveryPoints(instance.name)]);
    return instanceCompliance({ instance, terms: termsByPolicy.get(instance.policyName), jobs, points, from, to, now });
  });
  return { period: { from: isoSeconds(from), to: isoSeconds(to) }, generatedAt: isoSeconds(now), value };
}
