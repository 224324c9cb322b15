/**
 * Recovery point ids (SPEC section 1): `rp-YYYYMMDDTHHMMSSZ-<8 hex>`, sorting by time; and the dump's file name
 * inside the recovery point's folder.
 */
import { describe, expect, test } from "vitest";
import { dumpFileName, recoveryPointId } from "../../shared/recoveryPoints/recoveryPointId";

const idFormat = /^rp-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

describe("recoveryPointId", () => {
  test("when the time is the spec's example, then the id is the spec's example", () => {
    expect(recoveryPointId(new Date("2026-01-04T02:30:07Z"), "1a2b3c4d")).toBe("rp-20260104T023007Z-1a2b3c4d");
  });

  test("when the unique part is a GUID, then its first 8 hex digits are used, lower-cased", () => {
    expect(recoveryPointId(new Date("2026-01-04T02:30:07Z"), "9F1C2B3A-4D5E-6F70-8192-A3B4C5D6E7F8")).toBe(
      "rp-20260104T023007Z-9f1c2b3a",
    );
  });

  test("when the time has milliseconds, then they are dropped (whole seconds)", () => {
    expect(recoveryPointId(new Date("2026-12-31T23:59:59.999Z"), "deadbeef")).toBe("rp-20261231T235959Z-deadbeef");
  });

  test("when the time is given in another offset, then the id is in UTC", () => {
    expect(recoveryPointId(new Date("2027-01-01T00:30:00+01:00"), "00000000")).toBe("rp-20261231T233000Z-00000000");
  });

  test.each(["", "abc", "xyz-12", "1234567", "g".repeat(32)])("when the unique part %j has fewer than 8 hex digits, then it is refused", (unique) => {
    expect(() => recoveryPointId(new Date("2026-01-04T02:30:07Z"), unique)).toThrow(
      /^A recovery point id needs 8 hex digits of uniqueness, got \d\.$/,
    );
  });

  test("when ids are made across second, minute, day, month and year boundaries, then sorting them as text sorts them by time", () => {
    const times = [
      "2025-12-31T23:59:59Z",
      "2026-01-01T00:00:00Z",
      "2026-01-01T00:00:01Z",
      "2026-01-01T00:01:00Z",
      "2026-01-01T09:59:59Z",
      "2026-01-01T10:00:00Z",
      "2026-01-09T00:00:00Z",
      "2026-01-10T00:00:00Z",
      "2026-09-30T00:00:00Z",
      "2026-10-01T00:00:00Z",
      "2035-06-15T12:00:00Z",
    ];
    // Later times get smaller unique parts, so only the time can put them in order.
    const uniques = ["ffffffff", "eeeeeeee", "dddddddd", "cccccccc", "bbbbbbbb", "aaaaaaaa", "99999999", "88888888", "77777777", "66666666", "00000000"];
    const ids = times.map((time, index) => recoveryPointId(new Date(time), uniques[index] ?? "00000000"));
    expect([...ids].reverse().sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(idFormat);
  });
});

describe("dumpFileName", () => {
  test.each([
    ["sales", "sales.dump"],
    ["Sales DB", "Sales DB.dump"],
    ["a/b", "a%2Fb.dump"],
    ["100%", "100%25.dump"],
    ["a%2Fb", "a%252Fb.dump"],
    ["日本", "日本.dump"],
  ])("when the database is %j, then the file name is %j", (database, file) => {
    expect(dumpFileName(database)).toBe(file);
  });

  test("when two names differ only by an escaped and a literal slash, then their file names differ", () => {
    expect(dumpFileName("a/b")).not.toBe(dumpFileName("a%2Fb"));
  });
});
