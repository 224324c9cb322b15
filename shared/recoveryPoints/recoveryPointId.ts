/** Recovery point ids sort by time: `rp-YYYYMMDDTHHMMSSZ-<8 hex>` (SPEC section 1). */
export function recoveryPointId(time: Date, uniqueHex: string): string {
  const unique = uniqueHex.replace(/[^0-9a-f]/gi, "").slice(0, 8).toLowerCase();
  // Fewer digits would make an id outside the documented format (and a collision far more likely).
  if (unique.length < 8) throw new Error(`A recovery point id needs 8 hex digits of uniqueness, got ${unique.length}.`);
  return `${recoveryPointIdsFrom(time)}-${unique}`;
}

/** The part of the ids of points taken at `time` before their uniqueness: the lowest id of that second. */
export function recoveryPointIdsFrom(time: Date): string {
  return `rp-${time.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z")}`;
}

/** The dump's file name inside the recovery point's folder; keeps the name readable, escapes only `/`. */
export function dumpFileName(database: string): string {
  return `${database.replaceAll("%", "%25").replaceAll("/", "%2F")}.dump`;
}

/** What a recovery point id looks like (see recoveryPointId). */
export const recoveryPointIdPattern = /^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$/;
