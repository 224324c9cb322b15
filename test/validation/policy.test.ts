/**
 * What a PUT /backupPolicies/{name} body may hold (SPEC sections 2-3): the spec's example goes through as is,
 * and a bad body is refused with every issue at once, each under its JSON path.
 */
import { describe, expect, test } from "vitest";
import type { BackupPolicy } from "../../shared/domain";
import { ValidationError, type ValidationIssue } from "../../shared/errors";
import { parsePolicy } from "../../shared/validation/policy";
import { specExamplePolicy } from "../support/specExamples";

const specExample = specExamplePolicy;
/** The spec example as a Flexible Server policy: weekly, the most Azure runs (support matrix). */
const flexExample = () => ({ ...specExample(), datasourceType: "flexibleServer", schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00+00:00/P1W"], timeZone: "UTC" } });

/** The spec example with some parts replaced. */
function policyWith(overrides: { schedule?: unknown; retention?: unknown }): Record<string, unknown> {
  const body = specExample();
  if ("schedule" in overrides) body.schedule = overrides.schedule;
  if ("retention" in overrides) body.retention = overrides.retention;
  return body;
}

function scheduleWith(repeatingIntervals: unknown, timeZone: unknown = "UTC"): Record<string, unknown> {
  return { repeatingIntervals, timeZone };
}

function retentionWithDefault(duration: unknown): Record<string, unknown> {
  return { default: { duration } };
}

/** The issues `parsePolicy` reports for a body, failing the test when it accepts the body instead. */
function issuesOf(body: unknown): ValidationIssue[] {
  try {
    parsePolicy("daily-10y", body);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  throw new Error("expected the policy to be refused, but it was accepted");
}

const durationBounds = "must be at least P1D and at most P10Y";
const durationFormat = "must be an ISO 8601 duration of years, months, weeks and days, e.g. P30D or P10Y";
const intervalFormat = "must look like R/2026-01-04T02:30:00+00:00/P1D with period P1D, P1W or PT1H..PT12H";
const hourlyDivides24 = "hourly period must divide 24 (PT1H, PT2H, PT3H, PT4H, PT6H, PT8H, PT12H)";

describe("a valid policy", () => {
  test("when the body is the spec's example, then it is accepted as is, under the route's name", () => {
    const expected: BackupPolicy = {
      name: "daily-10y",
      datasourceType: "database",
      schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00+00:00/P1D"], timeZone: "Europe/Berlin" },
      retention: {
        default: { duration: "P30D" },
        rules: [
          { tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" },
          { tag: "Monthly", criteria: "FirstOfMonth", duration: "P12M" },
          { tag: "Yearly", criteria: "FirstOfYear", duration: "P10Y" },
        ],
      },
    };
    expect(parsePolicy("daily-10y", specExample())).toEqual(expected);
  });

  test("when the time zone is left out, then it is UTC", () => {
    const body = policyWith({ schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00Z/P1W"] } });
    expect(parsePolicy("weekly", body).schedule).toEqual({
      repeatingIntervals: ["R/2026-01-04T02:30:00Z/P1W"],
      timeZone: "UTC",
    });
  });

  test("when only the default rule is given, then the policy has no other rules", () => {
    const body = policyWith({ retention: retentionWithDefault("P7D") });
    expect(parsePolicy("short", body).retention).toEqual({ default: { duration: "P7D" }, rules: [] });
  });

  test("when several repeating intervals are given (two weekdays), then all are kept in order", () => {
    const intervals = ["R/2026-01-05T01:00:00+01:00/P1W", "R/2026-01-08T01:00:00+01:00/P1W"];
    expect(parsePolicy("twice-weekly", policyWith({ schedule: scheduleWith(intervals, "Europe/Berlin") })).schedule).toEqual({
      repeatingIntervals: intervals,
      timeZone: "Europe/Berlin",
    });
  });

  test("when the datasource type is flexibleServer with a weekly schedule, then it is accepted", () => {
    expect(parsePolicy("flex-weekly", flexExample()).datasourceType).toBe("flexibleServer");
  });

  test.each([
    ["daily", ["R/2026-01-04T02:30:00+00:00/P1D"], ["schedule.repeatingIntervals[0]"]],
    ["every 6 hours", ["R/2026-01-04T02:30:00+00:00/PT6H"], ["schedule.repeatingIntervals[0]"]],
    ["weekly on two weekdays", ["R/2026-01-05T01:00:00+00:00/P1W", "R/2026-01-08T01:00:00+00:00/P1W"], ["schedule.repeatingIntervals"]],
  ])("when a flexibleServer policy would run %s, then it is refused naming Azure's weekly limit", (_, repeatingIntervals, paths) => {
    const issues = issuesOf({ ...flexExample(), schedule: { repeatingIntervals, timeZone: "UTC" } });
    expect(issues.map((issue) => issue.path)).toEqual(paths);
    for (const issue of issues) expect(issue.message).toMatch(/at most once a week.*P1W/);
  });
});

describe("every issue at once", () => {
  test("when a body has several problems, then each is reported under its JSON path in one answer", () => {
    const body = {
      datasourceType: "database",
      schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00Z/PT5H", "R/2026-01-04T02:30:00Z/P1D"], timeZone: "Mars/Olympus" },
      retention: {
        default: { duration: "P30D" },
        rules: [
          { tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" },
          { tag: "Monthly", criteria: "FirstOfMonth", duration: "P11Y" },
        ],
      },
    };
    expect(issuesOf(body)).toEqual([
      { path: "schedule.repeatingIntervals[0]", message: hourlyDivides24 },
      { path: "schedule.timeZone", message: "'Mars/Olympus' is not an IANA time zone" },
      { path: "retention.rules[1].duration", message: durationBounds },
    ]);
  });

  test("when the refusal is turned into text, then the message lists every path", () => {
    const body = policyWith({ schedule: scheduleWith(["nope"], "Nowhere/City"), retention: retentionWithDefault("P0D") });
    let message = "";
    try {
      parsePolicy("p-1", body);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      `schedule.repeatingIntervals[0]: ${intervalFormat}; ` +
        "schedule.timeZone: 'Nowhere/City' is not an IANA time zone; " +
        `retention.default.duration: ${durationBounds}`,
    );
  });
});

describe("retention durations", () => {
  test.each(["P1D", "P52W", "P10Y", "P120M", "P3652D", "P9Y12M", "P1Y6M", "P30D"])(
    "when a duration is %s (within P1D..P10Y), then it is accepted",
    (duration) => {
      expect(parsePolicy("p-1", policyWith({ retention: retentionWithDefault(duration) })).retention.default.duration).toBe(duration);
    },
  );

  test.each(["P0D", "P11Y", "P121M", "P10Y1D", "P3653D", "P522W", "P0Y0M0W0D"])(
    "when a duration is %s (outside P1D..P10Y), then it is refused for its bounds",
    (duration) => {
      expect(issuesOf(policyWith({ retention: retentionWithDefault(duration) }))).toEqual([
        { path: "retention.default.duration", message: durationBounds },
      ]);
    },
  );

  test.each(["PT1H", "P1DT12H", "P", "30D", "P1.5Y", "p30d", "P-1D", " P30D", "P1D2Y"])(
    "when a duration is %j (not a calendar ISO 8601 duration), then it is refused for its format",
    (duration) => {
      expect(issuesOf(policyWith({ retention: retentionWithDefault(duration) }))).toEqual([
        { path: "retention.default.duration", message: durationFormat },
      ]);
    },
  );

  test.each([[30], [null], [""]])("when a duration is %j, then it is refused as not a string", (duration) => {
    expect(issuesOf(policyWith({ retention: retentionWithDefault(duration) }))).toEqual([
      { path: "retention.default.duration", message: "is required and must be a non-empty string" },
    ]);
  });

  test("when a rule's duration is out of bounds, then the issue names that rule by index", () => {
    const retention = {
      default: { duration: "P30D" },
      rules: [
        { tag: "Weekly", criteria: "FirstOfWeek", duration: "PT1H" },
        { tag: "Yearly", criteria: "FirstOfYear", duration: "P10Y1D" },
      ],
    };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.rules[0].duration", message: durationFormat },
      { path: "retention.rules[1].duration", message: durationBounds },
    ]);
  });
});

describe("unknown properties", () => {
  test("when any object holds a property the schema does not know, then each is refused by path", () => {
    const body = {
      datasourceType: "database",
      description: "nightly",
      schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00Z/P1D"], timeZone: "UTC", startNow: true },
      retention: {
        default: { duration: "P30D", tag: "Default" },
        rules: [{ tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W", weekday: "Sunday" }],
        archive: true,
      },
    };
    expect(issuesOf(body)).toEqual([
      { path: "description", message: "is not a known property" },
      { path: "schedule.startNow", message: "is not a known property" },
      { path: "retention.archive", message: "is not a known property" },
      { path: "retention.default.tag", message: "is not a known property" },
      { path: "retention.rules[0].weekday", message: "is not a known property" },
    ]);
  });

  test("when a property differs only in case (TimeZone), then it is refused as unknown rather than read as the zone", () => {
    const body = policyWith({ schedule: { repeatingIntervals: ["R/2026-01-04T02:30:00Z/P1D"], TimeZone: "Europe/Berlin" } });
    expect(issuesOf(body)).toEqual([{ path: "schedule.TimeZone", message: "is not a known property" }]);
  });
});

describe("the schedule", () => {
  test.each(["Mars/Olympus", "+01:00", "Europe/Berlinn", "CET/Europe"])(
    "when the time zone is %j (not an IANA zone), then it is refused by path",
    (timeZone) => {
      expect(issuesOf(policyWith({ schedule: scheduleWith(["R/2026-01-04T02:30:00Z/P1D"], timeZone) }))).toEqual([
        { path: "schedule.timeZone", message: `'${timeZone}' is not an IANA time zone` },
      ]);
    },
  );

  test("when the time zone is not a string, then it is refused once (not also as an unknown zone)", () => {
    expect(issuesOf(policyWith({ schedule: scheduleWith(["R/2026-01-04T02:30:00Z/P1D"], 1) }))).toEqual([
      { path: "schedule.timeZone", message: "must be a non-empty string when given" },
    ]);
  });

  test.each(["PT1H", "PT2H", "PT3H", "PT4H", "PT6H", "PT8H", "PT12H", "P1D", "P1W"])(
    "when the period is %s, then the interval is accepted",
    (period) => {
      const interval = `R/2026-01-04T00:00:00Z/${period}`;
      expect(parsePolicy("p-1", policyWith({ schedule: scheduleWith([interval]) })).schedule.repeatingIntervals).toEqual([interval]);
    },
  );

  test.each(["PT5H", "PT7H", "PT9H", "PT10H", "PT11H", "PT0H", "PT24H"])(
    "when the hourly period is %s (not one of PT1H..PT12H dividing 24), then it is refused by index",
    (period) => {
      const intervals = ["R/2026-01-04T00:00:00Z/P1D", `R/2026-01-04T00:00:00Z/${period}`];
      expect(issuesOf(policyWith({ schedule: scheduleWith(intervals) }))).toEqual([
        { path: "schedule.repeatingIntervals[1]", message: hourlyDivides24 },
      ]);
    },
  );

  test.each([
    ["a monthly period", "R/2026-01-04T00:00:00Z/P1M"],
    ["a two-day period", "R/2026-01-04T00:00:00Z/P2D"],
    ["a repeat count", "R5/2026-01-04T00:00:00Z/P1D"],
    ["no start", "R/P1D"],
    ["a date without a time", "R/2026-01-04/P1D"],
  ])("when the interval has %s, then it is refused for its format", (_case, interval) => {
    expect(issuesOf(policyWith({ schedule: scheduleWith([interval]) }))).toEqual([
      { path: "schedule.repeatingIntervals[0]", message: intervalFormat },
    ]);
  });

  test.each(["R/2026-02-30T02:30:00Z/P1D", "R/2026-01-04T24:00:00Z/P1D", "R/2026-01-04T02:60:00Z/P1D", "R/2026-13-01T02:30:00Z/P1D"])(
    "when the start %s is not a real date and time, then it is refused",
    (interval) => {
      expect(issuesOf(policyWith({ schedule: scheduleWith([interval]) }))).toEqual([
        { path: "schedule.repeatingIntervals[0]", message: "start is not a valid date and time" },
      ]);
    },
  );

  test("when an interval is not a string, then it is refused by index", () => {
    expect(issuesOf(policyWith({ schedule: scheduleWith(["R/2026-01-04T00:00:00Z/P1D", 24]) }))).toEqual([
      { path: "schedule.repeatingIntervals[1]", message: "must be a string" },
    ]);
  });

  test.each([[[]], ["R/2026-01-04T00:00:00Z/P1D"], [undefined]])(
    "when repeatingIntervals is %j (not a non-empty array), then it is refused",
    (repeatingIntervals) => {
      expect(issuesOf(policyWith({ schedule: scheduleWith(repeatingIntervals) }))).toEqual([
        { path: "schedule.repeatingIntervals", message: "must be an array of 1 to 24 items" },
      ]);
    },
  );

  test("when there are more than 24 intervals, then the list is refused", () => {
    const intervals = Array.from({ length: 25 }, () => "R/2026-01-04T00:00:00Z/P1D");
    expect(issuesOf(policyWith({ schedule: scheduleWith(intervals) }))).toEqual([
      { path: "schedule.repeatingIntervals", message: "must be an array of 1 to 24 items" },
    ]);
  });
});

describe("retention rules", () => {
  test("when a tag comes with another tag's criteria, then the criteria is refused naming the right one", () => {
    const retention = {
      default: { duration: "P30D" },
      rules: [
        { tag: "Weekly", criteria: "FirstOfMonth", duration: "P12W" },
        { tag: "Yearly", criteria: "FirstOfWeek", duration: "P10Y" },
      ],
    };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.rules[0].criteria", message: "tag 'Weekly' goes with criteria 'FirstOfWeek'" },
      { path: "retention.rules[1].criteria", message: "tag 'Yearly' goes with criteria 'FirstOfYear'" },
    ]);
  });

  test("when a tag appears twice, then the second use is refused", () => {
    const retention = {
      default: { duration: "P30D" },
      rules: [
        { tag: "Monthly", criteria: "FirstOfMonth", duration: "P12M" },
        { tag: "Monthly", criteria: "FirstOfMonth", duration: "P6M" },
      ],
    };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.rules[1].tag", message: "tag 'Monthly' appears more than once" },
    ]);
  });

  test("when a tag appears twice and its first use is itself invalid, then both issues are reported", () => {
    const retention = {
      default: { duration: "P30D" },
      rules: [
        { tag: "Weekly", criteria: "FirstOfWeek", duration: "P0D" },
        { tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" },
      ],
    };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.rules[0].duration", message: durationBounds },
      { path: "retention.rules[1].tag", message: "tag 'Weekly' appears more than once" },
    ]);
  });

  test("when a tag appears twice and its first use has the wrong criteria, then both issues are reported", () => {
    const retention = {
      default: { duration: "P30D" },
      rules: [
        { tag: "Yearly", criteria: "FirstOfMonth", duration: "P10Y" },
        { tag: "Yearly", criteria: "FirstOfYear", duration: "P10Y" },
      ],
    };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.rules[0].criteria", message: "tag 'Yearly' goes with criteria 'FirstOfYear'" },
      { path: "retention.rules[1].tag", message: "tag 'Yearly' appears more than once" },
    ]);
  });

  test("when a rule names an unknown tag or criteria, then each is refused with the allowed values", () => {
    const retention = {
      default: { duration: "P30D" },
      rules: [
        { tag: "Daily", criteria: "FirstOfWeek", duration: "P12W" },
        { tag: "Monthly", criteria: "LastOfMonth", duration: "P12M" },
        { tag: "Default", criteria: "FirstOfYear", duration: "P10Y" },
      ],
    };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.rules[0].tag", message: "must be one of 'Weekly', 'Monthly', 'Yearly'" },
      { path: "retention.rules[1].criteria", message: "must be one of 'FirstOfWeek', 'FirstOfMonth', 'FirstOfYear'" },
      { path: "retention.rules[2].tag", message: "must be one of 'Weekly', 'Monthly', 'Yearly'" },
    ]);
  });

  test("when a rule is not an object, then it is refused by index and its fields are reported missing", () => {
    const retention = { default: { duration: "P30D" }, rules: ["Weekly"] };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.rules[0]", message: "must be a JSON object" },
      { path: "retention.rules[0].tag", message: "must be one of 'Weekly', 'Monthly', 'Yearly'" },
      { path: "retention.rules[0].criteria", message: "must be one of 'FirstOfWeek', 'FirstOfMonth', 'FirstOfYear'" },
      { path: "retention.rules[0].duration", message: "is required and must be a non-empty string" },
    ]);
  });

  test("when there are more rules than tags, then the list is refused", () => {
    const rules = [...(specExample().retention as { rules: unknown[] }).rules, { tag: "Weekly", criteria: "FirstOfWeek", duration: "P1W" }];
    expect(issuesOf(policyWith({ retention: { default: { duration: "P30D" }, rules } }))).toEqual([
      { path: "retention.rules", message: "must be an array of 0 to 3 items" },
    ]);
  });

  test("when the default rule is missing, then it is refused", () => {
    const retention = { rules: [{ tag: "Weekly", criteria: "FirstOfWeek", duration: "P12W" }] };
    expect(issuesOf(policyWith({ retention }))).toEqual([
      { path: "retention.default", message: "must be a JSON object" },
      { path: "retention.default.duration", message: "is required and must be a non-empty string" },
    ]);
  });

  test("when the default rule has no duration, then the duration is refused", () => {
    expect(issuesOf(policyWith({ retention: { default: {} } }))).toEqual([
      { path: "retention.default.duration", message: "is required and must be a non-empty string" },
    ]);
  });
});

describe("the body as a whole", () => {
  test.each([[null], [[]], ["policy"], [42], [true], [undefined]])(
    "when the body is %j (not an object), then it is refused at $ along with every required field",
    (body) => {
      expect(issuesOf(body)).toEqual([
        { path: "$", message: "must be a JSON object" },
        { path: "datasourceType", message: "must be one of 'database', 'flexibleServer'" },
        { path: "schedule", message: "must be a JSON object" },
        { path: "schedule.repeatingIntervals", message: "must be an array of 1 to 24 items" },
        { path: "retention", message: "must be a JSON object" },
        { path: "retention.default", message: "must be a JSON object" },
        { path: "retention.default.duration", message: "is required and must be a non-empty string" },
      ]);
    },
  );

  test.each([["Database"], ["server"], [undefined]])("when the datasource type is %j, then it is refused", (datasourceType) => {
    expect(issuesOf({ ...specExample(), datasourceType })).toEqual([
      { path: "datasourceType", message: "must be one of 'database', 'flexibleServer'" },
    ]);
  });

  test("when schedule and retention are arrays, then each is refused as not an object", () => {
    expect(issuesOf({ ...specExample(), schedule: [], retention: [] })).toEqual([
      { path: "schedule", message: "must be a JSON object" },
      { path: "schedule.repeatingIntervals", message: "must be an array of 1 to 24 items" },
      { path: "retention", message: "must be a JSON object" },
      { path: "retention.default", message: "must be a JSON object" },
      { path: "retention.default.duration", message: "is required and must be a non-empty string" },
    ]);
  });
});

describe("policy encryption", () => {
  test.each([["https://myvault.vault.azure.net/keys/backup-kek"], ["https://myvault.vault.azure.net/keys/backup-kek/0123456789abcdef0123456789abcdef"], ["env:PGVAULT_SECRET_KEK"]])(
    "when encryption.keyRef is %s, then the policy keeps it",
    (keyRef) => {
      expect(parsePolicy("daily-10y", { ...specExample(), encryption: { keyRef } }).encryption).toEqual({ keyRef });
    },
  );

  test("when a policy has no encryption, then none is stored", () => {
    expect(parsePolicy("daily-10y", specExample())).not.toHaveProperty("encryption");
  });

  test.each([
    ["https://myvault.vault.azure.net/secrets/backup-kek", "must have the path /keys/<name>[/<version>] (a Key Vault key, not a secret)"],
    ["https://keys.example.com/keys/backup-kek", "must name a Key Vault host (https://<vault>.vault.azure.net or a sovereign cloud's)"],
    ["http://myvault.vault.azure.net/keys/backup-kek", "must use https"],
    ["env:1KEY", "env:<NAME> must name an app setting (letters, digits and underscores, not starting with a digit)"],
    ["backup-kek", "is neither a Key Vault key URI nor env:<NAME>"],
    ["base64:AAAA", "must use https"],
    ["env:PGVAULT_KEK", "'env:PGVAULT_KEK' names an app setting without the prefix PGVAULT_SECRET_; env: references may name only settings made for them (PGVAULT_SECRET_<NAME>)"],
  ])("when encryption.keyRef is %s, then it is refused as UserErrorInvalidSecret without being repeated", (keyRef, reason) => {
    expect(issuesOf({ ...specExample(), encryption: { keyRef } })).toEqual([
      { path: "encryption.keyRef", message: `keyRef ${reason} (UserErrorInvalidSecret)` },
    ]);
  });

  test("when encryption is malformed, then each problem is listed", () => {
    expect(issuesOf({ ...specExample(), encryption: { key: "x" } })).toEqual([
      { path: "encryption.key", message: "is not a known property" },
      { path: "encryption.keyRef", message: "is required and must be a non-empty string" },
    ]);
    expect(issuesOf({ ...specExample(), encryption: "env:KEY" })).toEqual([
      { path: "encryption", message: "must be a JSON object" },
      { path: "encryption.keyRef", message: "is required and must be a non-empty string" },
    ]);
  });

  test("when a flexibleServer policy asks for encryption, then it is refused (the server writes its own files)", () => {
    expect(issuesOf({ ...flexExample(), encryption: { keyRef: "env:PGVAULT_SECRET_KEK" } })).toEqual([
      { path: "encryption", message: "applies to 'database' policies only: a Flexible Server writes its own backup files" },
    ]);
  });
});

describe("policy compression", () => {
  test.each([
    [{ algorithm: "zstd" }, { algorithm: "zstd" }],
    [{ algorithm: "zstd", level: 19 }, { algorithm: "zstd", level: 19 }],
    [{ algorithm: "gzip", level: 1 }, { algorithm: "gzip", level: 1 }],
    [{ algorithm: "none" }, { algorithm: "none" }],
  ])("when compression is %j, then the policy keeps it", (compression, kept) => {
    expect(parsePolicy("daily-10y", { ...specExample(), compression }).compression).toEqual(kept);
  });

  test("when a policy has no compression, then none is stored (new points get zstd's default)", () => {
    expect(parsePolicy("daily-10y", specExample())).not.toHaveProperty("compression");
  });

  test.each([
    [{ algorithm: "lz4" }, [{ path: "compression.algorithm", message: "must be one of 'zstd', 'gzip', 'none'" }]],
    [{ algorithm: "zstd", level: 20 }, [{ path: "compression.level", message: "must be an integer from 1 to 19" }]],
    [{ algorithm: "zstd", level: 0 }, [{ path: "compression.level", message: "must be an integer from 1 to 19" }]],
    [{ algorithm: "gzip", level: 10 }, [{ path: "compression.level", message: "must be an integer from 1 to 9" }]],
    [{ algorithm: "gzip", level: 2.5 }, [{ path: "compression.level", message: "must be an integer from 1 to 9" }]],
    [{ algorithm: "none", level: 3 }, [{ path: "compression.level", message: "does not apply to algorithm 'none'" }]],
    [{ level: 3 }, [{ path: "compression.algorithm", message: "must be one of 'zstd', 'gzip', 'none'" }]],
    [{ algorithm: "zstd", threads: 4 }, [{ path: "compression.threads", message: "is not a known property" }]],
    ["zstd", [{ path: "compression", message: "must be a JSON object" }, { path: "compression.algorithm", message: "must be one of 'zstd', 'gzip', 'none'" }]],
  ])("when compression is %j, then it is refused by path", (compression, expected) => {
    expect(issuesOf({ ...specExample(), compression })).toEqual(expected);
  });

  test("when a flexibleServer policy asks for compression, then it is refused (the server writes its own files)", () => {
    expect(issuesOf({ ...flexExample(), compression: { algorithm: "gzip" } })).toEqual([
      { path: "compression", message: "applies to 'database' policies only: a Flexible Server writes its own backup files" },
    ]);
  });
});

describe("policy notifications", () => {
  test.each([
    [{ jobSucceeded: true }, { jobSucceeded: true }],
    [{ jobSucceeded: false }, { jobSucceeded: false }],
    [{}, { jobSucceeded: false }],
  ])("when notifications are %j, then the policy keeps %j", (notifications, kept) => {
    expect(parsePolicy("daily-10y", { ...specExample(), notifications }).notifications).toEqual(kept);
  });

  test("when a policy has no notifications, then none are stored (successes publish no event)", () => {
    expect(parsePolicy("daily-10y", specExample())).not.toHaveProperty("notifications");
  });

  test.each([
    [{ jobSucceeded: "yes" }, [{ path: "notifications.jobSucceeded", message: "must be true or false" }]],
    [{ jobFailed: false }, [{ path: "notifications.jobFailed", message: "is not a known property" }]],
    [true, [{ path: "notifications", message: "must be a JSON object" }]],
  ])("when notifications are %j, then they are refused by path", (notifications, expected) => {
    expect(issuesOf({ ...specExample(), notifications })).toEqual(expected);
  });
});
