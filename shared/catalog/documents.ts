/**
 * Catalog records stored as JSON documents (policies, instances, recovery points): the document in `doc`
 * columns plus the columns queries filter on.
 */
import { PgVaultError } from "../errors";
import { statusOf } from "../storageErrors";
import { guarded } from "./tableAccess";
import { getReadyTableClient } from "./vaultClients";

export const catalogTables = {
  policies: "backupPolicies",
  instances: "backupInstances",
  recoveryPoints: "recoveryPoints",
  jobs: "jobs",
} as const;

const table = getReadyTableClient;

/**
 * A table property holds at most 32K UTF-16 characters and an entity 1 MiB, so a long document (a Flexible Server
 * point listing many files) is split over `doc`, `doc1`, `doc2`, ... in order.
 */
const docChunkChars = 30_000;
const docColumns = ["doc", ...Array.from({ length: 14 }, (_, i) => `doc${i + 1}`)];
export type DocEntity = Record<string, unknown>;

export function docToColumns(doc: object, what: string): Record<string, string> {
  const text = JSON.stringify(doc);
  const chunks = Math.max(1, Math.ceil(text.length / docChunkChars));
  if (chunks > docColumns.length) {
    throw new PgVaultError("SystemErrorUnexpected", `${what} is ${text.length} characters, more than a catalog row holds.`);
  }
  return Object.fromEntries(Array.from({ length: chunks }, (_, i) => [docColumns[i]!, text.slice(i * docChunkChars, (i + 1) * docChunkChars)]));
}

export function docFromColumns(entity: DocEntity): string {
  let text = "";
  for (const column of docColumns) {
    const part = entity[column];
    if (typeof part !== "string") break;
    text += part;
  }
  return text;
}

export async function readDocument<T>(tableName: string, partitionKey: string, rowKey: string): Promise<T | undefined> {
  const client = await table(tableName);
  return guarded(`reading ${tableName}/${rowKey}`, async () => {
    try {
      const entity = await client.getEntity<DocEntity>(partitionKey, rowKey);
      return JSON.parse(docFromColumns(entity)) as T;
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  });
}

/** Upserts a document (or, `onlyIfAbsent`, creates it unless a row exists); tells whether it was new (for 201 versus 200). */
export async function writeDocument(
  tableName: string,
  partitionKey: string,
  rowKey: string,
  doc: object,
  columns: Record<string, string | number | boolean> = {},
  { onlyIfAbsent = false } = {},
): Promise<{ created: boolean }> {
  const client = await table(tableName);
  return guarded(`writing ${tableName}/${rowKey}`, async () => {
    const entity = { partitionKey, rowKey, ...docToColumns(doc, `${tableName}/${rowKey}`), ...columns };
    try {
      await client.createEntity(entity);
      return { created: true };
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      if (!onlyIfAbsent) await client.upsertEntity(entity, "Replace");
      return { created: false };
    }
  });
}

export async function listDocuments<T>(tableName: string, filter: string): Promise<T[]> {
  const client = await table(tableName);
  return guarded(`listing ${tableName}`, async () => {
    const docs: T[] = [];
    for await (const entity of client.listEntities<DocEntity>({ queryOptions: { filter, select: docColumns } })) {
      docs.push(JSON.parse(docFromColumns(entity)) as T);
    }
    return docs;
  });
}

export async function deleteRow(tableName: string, partitionKey: string, rowKey: string): Promise<boolean> {
  const client = await table(tableName);
  return guarded(`deleting ${tableName}/${rowKey}`, async () => {
    try {
      await client.deleteEntity(partitionKey, rowKey);
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  });
}
