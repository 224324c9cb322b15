/** Probing what a SAS URL allows: the HTTP status of a call through it, and its permission letters. */

/** 200 when `work` succeeds, else the status the storage service refused it with. */
export async function statusOf(work: () => Promise<unknown>): Promise<number | undefined> {
  try {
    await work();
    return 200;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode;
  }
}

/** The `sp` letters of a SAS URL in alphabetical order, e.g. `clw`. */
export function sasPermissions(sasUrl: string): string {
  return [...(new URL(sasUrl).searchParams.get("sp") ?? "")].sort().join("");
}
