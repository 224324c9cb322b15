/**
 * A tiny typed reader for JSON bodies: each accessor checks one field, records what is wrong under its JSON path,
 * and returns a value of the right type so a validator can build its result in one pass and report every issue
 * at once.
 */
import { PgVaultError, ValidationError, type ValidationIssue } from "../errors";

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export class IssueCollector {
  readonly issues: ValidationIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /** Throws a ValidationError with every issue collected so far. */
  throwIfAny(): void {
    if (this.issues.length > 0) throw new ValidationError(this.issues);
  }

  object(value: unknown, path: string, allowed: readonly string[]): JsonObject {
    if (!isObject(value)) {
      this.add(path || "$", "must be a JSON object");
      return {};
    }
    for (const key of Object.keys(value)) {
      if (allowed.includes(key)) continue;
      // A key is request text too: one that is not a plain identifier is not repeated (it may hold a secret).
      if (/^[A-Za-z0-9_$-]{1,64}$/.test(key)) this.add(join(path, key), "is not a known property");
      else this.add(path || "$", "has a property that is not known (its name is not repeated here)");
    }
    return value;
  }

  string(value: unknown, path: string, options: { optional?: boolean; maxLength?: number } = {}): string | undefined {
    if (value === undefined && options.optional) return undefined;
    if (typeof value !== "string" || value.trim() === "") {
      this.add(path, options.optional ? "must be a non-empty string when given" : "is required and must be a non-empty string");
      return undefined;
    }
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      this.add(path, `must be at most ${options.maxLength} characters`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], optional = false): T | undefined {
    if (value === undefined && optional) return undefined;
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
    this.add(path, `must be one of ${allowed.map((v) => `'${v}'`).join(", ")}`);
    return undefined;
  }

  integer(value: unknown, path: string, min: number, max: number, fallback?: number): number | undefined {
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      this.add(path, `must be an integer from ${min} to ${max}`);
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== "boolean") {
      this.add(path, "must be true or false");
      return fallback;
    }
    return value;
  }

  /**
   * Runs a parser of request text that refuses with a PgVaultError (a secret or key reference): its refusal becomes
   * this field's issue, code included, so a reference is refused with 400 before anything is read with it.
   */
  parsed<T>(path: string, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof PgVaultError)) throw err;
      this.add(path, `${err.detail.replace(/\.$/, "")} (${err.code})`);
      return undefined;
    }
  }

  /** An ISO 8601 date-time with a zone (a query parameter), as a UTC ISO string; undefined when absent. */
  dateTime(value: string | null | undefined, path: string): string | undefined {
    if (value === null || value === undefined) return undefined;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
      this.add(path, "must be an ISO 8601 date-time with a zone, e.g. 2026-11-01T00:00:00Z");
      return undefined;
    }
    return new Date(value).toISOString();
  }

  array(value: unknown, path: string, minItems: number, maxItems: number): unknown[] {
    if (!Array.isArray(value) || value.length < minItems || value.length > maxItems) {
      this.add(path, `must be an array of ${minItems} to ${maxItems} items`);
      return [];
    }
    return value;
  }
}

export function join(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}
