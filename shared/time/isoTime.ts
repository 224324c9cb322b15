/** Times as the catalog and the API write them: ISO 8601 in UTC to the second (`2026-01-04T02:30:07Z`). */
export function isoSeconds(time: Date | string): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}
