/** What every part of the catalog does with its tables: failures as storage errors, strings in OData filters. */
import { storageFailure } from "../storageErrors";

/** Runs a table call, its failure turned into the storage error for `what` (shared/storageErrors.ts). */
export async function guarded<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw storageFailure(err, what);
  }
}

/** A string literal in an OData filter: quoted, its quotes doubled. */
export function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
