/**
 * `schema.table` as PostgreSQL reads it: the server's own `parse_ident(text, strict => true)` is the judge. Every
 * name the parser accepts, the server splits into exactly those parts; names written by the grammar (unquoted in any
 * case, non-ASCII, quoted with spaces, dots and doubled quotes) are accepted by both, alike; and what is malformed,
 * ambiguous or longer than PostgreSQL keeps is refused.
 */
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseQualifiedName, parseSchemaName } from "../../shared/postgres/qualifiedName";
import { cluster } from "../support/testDatabase";

let client: pg.Client;

beforeAll(async () => {
  const server = cluster();
  client = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: "postgres" });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
});

/** The server's split of `text`, or undefined when it refuses it. */
async function serverParts(text: string): Promise<string[] | undefined> {
  try {
    return (await client.query<{ parts: string[] }>("SELECT parse_ident($1, true) AS parts", [text])).rows[0]!.parts;
  } catch {
    return undefined;
  }
}

describe("reading schema.table", () => {
  test.each([
    ["sales.orders", "sales", "orders"],
    ["Sales.ORDERS", "sales", "orders"],
    ['"My Schema"."Order Lines"', "My Schema", "Order Lines"],
    ['sales."a.b"', "sales", "a.b"],
    ['"we""ird".t$1', 'we"ird', "t$1"],
    ["_x.Ärger", "_x", "Ärger"],
    ["日本.表", "日本", "表"],
  ])("when %s is given, then it is schema %s, table %s", async (text, schema, name) => {
    expect(parseQualifiedName(text)).toEqual({ ok: true, value: { schema, name } });
    expect(await serverParts(text)).toEqual([schema, name]);
  });

  test.each([
    ["orders", "no schema"],
    ["a.b.c", "three parts"],
    ["sales. orders", "a space"],
    [" sales.orders", "a leading space"],
    ['sales."orders', "an open quote"],
    ['sales.""', "an empty quoted name"],
    ["1sales.orders", "a digit first"],
    ["sales.or-ders", "a hyphen"],
    ['U&"d\\0061t\\+000061"."x"', "a Unicode escape"],
    [`sales.${"x".repeat(64)}`, "a name of 64 bytes"],
    [`sales."${"é".repeat(32)}"`, "a name of 64 bytes in 32 characters"],
  ])("when %s is given (%s), then it is refused", (text) => {
    expect(parseQualifiedName(text).ok).toBe(false);
  });

  test("when names are written any way the grammar allows, then the server splits them into what the parser read", async () => {
    const unquoted = fc
      .tuple(fc.constantFrom(..."aZ_ßé日"), fc.array(fc.constantFrom(..."aB9_$xÉ表"), { maxLength: 12 }))
      .map(([first, rest]) => first + rest.join(""));
    const quoted = fc
      .string({ unit: fc.constantFrom(..."aZ .\"'$-é;日"), minLength: 1, maxLength: 20 })
      .map((inner) => `"${inner.replaceAll('"', '""')}"`);
    const identifier = fc.oneof(unquoted, quoted);
    await fc.assert(
      fc.asyncProperty(identifier, identifier, async (schema, table) => {
        const text = `${schema}.${table}`;
        const parsed = parseQualifiedName(text);
        expect(parsed.ok).toBe(true);
        if (parsed.ok) expect(await serverParts(text)).toEqual([parsed.value.schema, parsed.value.name]);
      }),
      { numRuns: 300 },
    );
  });

  test("when any text is given, then what the parser accepts the server reads the same way", async () => {
    const text = fc.string({ unit: fc.constantFrom(..."aZ_9$. \"'-é日\\"), maxLength: 16 });
    await fc.assert(
      fc.asyncProperty(text, async (candidate) => {
        const parsed = parseQualifiedName(candidate);
        if (parsed.ok) expect(await serverParts(candidate)).toEqual([parsed.value.schema, parsed.value.name]);
      }),
      { numRuns: 500 },
    );
  });
});

describe("reading a schema name", () => {
  test("when one name is given, then it is read as the server reads it; two parts or none are refused", async () => {
    expect(parseSchemaName("Archive")).toEqual({ ok: true, value: "archive" });
    expect(parseSchemaName('"Archive 2"')).toEqual({ ok: true, value: "Archive 2" });
    expect(await serverParts('"Archive 2"')).toEqual(["Archive 2"]);
    for (const text of ["", "a.b", '"a".b', "a ", '"a"x']) expect(parseSchemaName(text).ok).toBe(false);
  });
});
