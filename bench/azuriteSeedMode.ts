/**
 * Loaded into the benchmark's Azurite process (`NODE_OPTIONS=--require`, bench/catalog.ts) so that millions of
 * rows can be seeded in minutes. Two costs in Azurite's table store (Azurite 3.37.0,
 * node_modules/azurite/dist/src/table/persistence/LokiTableMetadataStore.js) make seeding the scale
 * take days, and neither is in what the benchmark measures:
 *
 * - `insertTableEntity` first looks the entity up with `findOne({ RowKey, PartitionKey })`, which LokiJS answers
 *   from its RowKey index and then walks every match: every job row has the row key `job`, so each insert walks
 *   all rows before it (quadratic).
 * - LokiJS keeps its binary indexes sorted on every insert (`adaptiveBinaryIndices`, by `splice`).
 *
 * Until the process gets SIGUSR2, inserts skip that lookup, upserts find no entity (they go through the same
 * lookup first, `queryTableEntitiesWithPartitionAndRowKey`), and the indexes are left to be rebuilt once: the
 * benchmark writes each key once (bench/catalogSeed.ts checks its job ids are unique) and reads nothing meanwhile. On SIGUSR2 Azurite's own insert is back, every
 * touched collection's indexes are rebuilt and adaptive again, and the file named by
 * `PGVAULT_BENCH_SEEDED_FILE` is written: from then on Azurite is as it ships, and the measurements run.
 */
import { writeFileSync } from "node:fs";

interface Collection {
  adaptiveBinaryIndices: boolean;
  findOne(query: object): unknown;
  ensureAllIndexes(force: boolean): void;
}

interface MetadataStore {
  getEntityCollection(account: string, table: string, context: unknown): Collection;
  insertTableEntity(context: unknown, table: string, account: string, entity: unknown, batchId?: string): Promise<unknown>;
  queryTableEntitiesWithPartitionAndRowKey(...args: unknown[]): Promise<unknown>;
}

// Azurite's own module (the same file its table server loads, so the same prototype).
const store = (require("azurite/dist/src/table/persistence/LokiTableMetadataStore.js") as { default: { prototype: MetadataStore } }).default.prototype;
const insert = store.insertTableEntity;
const lookUp = store.queryTableEntitiesWithPartitionAndRowKey;
const touched = new Set<Collection>();

store.insertTableEntity = function seedingInsert(this: MetadataStore, context, table, account, entity, batchId) {
  const collection = this.getEntityCollection(account, table, context);
  touched.add(collection);
  collection.adaptiveBinaryIndices = false;
  const findOne = collection.findOne;
  collection.findOne = () => null;
  try {
    // Azurite's insert runs to its end synchronously (no await before `insert`): the lookup is skipped for this call only.
    return insert.call(this, context, table, account, entity, batchId);
  } finally {
    collection.findOne = findOne;
  }
};

store.queryTableEntitiesWithPartitionAndRowKey = async () => undefined;

process.once("SIGUSR2", () => {
  store.insertTableEntity = insert;
  store.queryTableEntitiesWithPartitionAndRowKey = lookUp;
  for (const collection of touched) {
    collection.adaptiveBinaryIndices = true;
    collection.ensureAllIndexes(true);
  }
  const done = process.env.PGVAULT_BENCH_SEEDED_FILE;
  if (done) writeFileSync(done, "seeded\n");
});
