/** The policy body of SPEC section 2, fresh on every call so one test's edits never leak into another. */
export function specExamplePolicy(): Record<string, unknown> {
  return {
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
}
