/**
 * The compliance report as CSV (RFC 4180: a header record, then one record per instance, CRLF line ends; written by
 * archive/csvWriter.ts). Empty field: no value (JSON null). Every record repeats the period, so rows of several
 * reports stay apart when put together. No field can start as a spreadsheet formula (`=`, `+`, `-`, `@`): names and
 * host names start with a letter or digit (validated when stored), and a database name comes after its host.
 */
import { csvRecord } from "../archive/csvWriter";
import type { ComplianceReport } from "./complianceReport";
import type { InstanceCompliance } from "./complianceFigures";

export const complianceCsvColumns = [
  "periodFrom",
  "periodTo",
  "instanceName",
  "datasourceType",
  "datasource",
  "protectionState",
  "policyName",
  "rpo",
  "rpoDerived",
  "evaluatedFrom",
  "withinRpoShare",
  "withinRpoSeconds",
  "scheduledSlots",
  "backupsTaken",
  "backupsFailed",
  "longestGapSeconds",
  "longestGapFrom",
  "longestGapTo",
  "drillsRun",
  "drillsPassed",
  "restorablePoints",
  "oldestRestorablePoint",
  "newestRestorablePoint",
  "immutability",
  "immutablePoints",
  "lockedPoints",
] as const;

type Column = (typeof complianceCsvColumns)[number];

const text = (value: string | number | boolean | null): string | null => (value === null ? null : String(value));

function fields(period: ComplianceReport["period"], row: InstanceCompliance): Record<Column, string | number | boolean | null> {
  return {
    periodFrom: period.from,
    periodTo: period.to,
    instanceName: row.instanceName,
    datasourceType: row.datasourceType,
    datasource: row.datasource,
    protectionState: row.protectionState,
    policyName: row.policyName,
    rpo: row.rpo,
    rpoDerived: row.rpoDerived,
    evaluatedFrom: row.evaluatedFrom,
    withinRpoShare: row.withinRpoShare,
    withinRpoSeconds: row.withinRpoSeconds,
    scheduledSlots: row.scheduledSlots,
    backupsTaken: row.backupsTaken,
    backupsFailed: row.backupsFailed,
    longestGapSeconds: row.longestGap?.seconds ?? null,
    longestGapFrom: row.longestGap?.from ?? null,
    longestGapTo: row.longestGap?.to ?? null,
    drillsRun: row.drillsRun,
    drillsPassed: row.drillsPassed,
    restorablePoints: row.restorablePoints,
    oldestRestorablePoint: row.oldestRestorablePoint,
    newestRestorablePoint: row.newestRestorablePoint,
    immutability: row.immutability.state,
    immutablePoints: row.immutability.immutablePoints,
    lockedPoints: row.immutability.lockedPoints,
  };
}

export function complianceCsv(report: ComplianceReport): string {
  const records = report.value.map((row) => {
    const values = fields(report.period, row);
    return csvRecord(complianceCsvColumns.map((column) => text(values[column])));
  });
  return csvRecord(complianceCsvColumns) + records.join("");
}
