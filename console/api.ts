/**
 * The console's one way to the HTTP API (docs/api.md): same origin, relative to the page (`/api/backup-center`
 * → `/api/<route>`), the page's function key (`?code=`) sent as `x-functions-key`, JSON in and out. Every refusal
 * becomes an `ApiError` carrying the spec's code, message, details and recommended action, for the page to show.
 */

export interface ErrorDetail {
  path: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly recommendedAction?: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

const functionKey = new URLSearchParams(location.search).get("code");

/** `route` under /api, e.g. `backupInstances/sales/recoveryPoints`; `query` values are encoded. */
export function apiUrl(route: string, query: Record<string, string | number | undefined> = {}): string {
  const url = new URL(route, new URL("./", location.href));
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== "") url.searchParams.set(name, String(value));
  return url.href;
}

/** A name as one path segment. */
export const segment = (value: string) => encodeURIComponent(value);

export async function api<T>(method: string, route: string, options: { body?: unknown; query?: Record<string, string | number | undefined> } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (functionKey) headers["x-functions-key"] = functionKey;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(apiUrl(route, options.query), {
      method,
      headers,
      credentials: "same-origin",
      cache: "no-store",
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
  } catch (err) {
    throw new ApiError(0, "NetworkError", `The service could not be reached (${err instanceof Error ? err.message : String(err)}).`, "Check the connection and try again.");
  }
  const text = await response.text();
  const body: unknown = text ? safeJson(text) : undefined;
  if (response.ok) return body as T;
  const error = (body as { error?: { code?: string; message?: string; recommendedAction?: string; details?: ErrorDetail[] } } | undefined)?.error;
  throw new ApiError(response.status, error?.code ?? `HTTP${response.status}`, error?.message ?? `The service answered HTTP ${response.status}.`, error?.recommendedAction, error?.details ?? []);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
