/**
 * fast-check arbitraries for hostile HTTP input: names, durations, intervals, time zones, connection strings,
 * resource ids, SAS URLs, unicode, huge numbers, prototype-pollution keys, and JSON of any shape. Bodies are built
 * as JSON text from a tree (not with JSON.stringify of an object), so keys like `__proto__` and duplicate keys
 * really reach the parser. Secret-bearing seeds carry markers a response must never contain.
 */
import fc from "fast-check";

/** A password and a SAS signature that appear only in the seeds below: finding one in an answer is a leak. */
export const secretMarkers = ["S3cr3tXYZ", "SIGSECRETXYZ"] as const;

/** Connection strings, SAS URLs and secret-looking references, as a careless or hostile caller would send them. */
export const secretSeeds = [
  "postgres://u:S3cr3tXYZ@h/db",
  "postgresql://backup:S3cr3tXYZ@127.0.0.1:1/db?sslmode=require",
  "Server=pg.example.com;Database=sales;Port=5432;User Id=u;Password=S3cr3tXYZ;Ssl Mode=Require;",
  "Password=S3cr3tXYZ",
  "env:postgres://u:S3cr3tXYZ@h/db",
  "env:Password=S3cr3tXYZ;User Id=u",
  "https://kv.vault.azure.net/secrets/x?sig=SIGSECRETXYZ",
  "https://u:S3cr3tXYZ@kv.vault.azure.net/secrets/x",
  "https://kv.vault.azure.net/postgres://u:S3cr3tXYZ@h/db",
  "https://kv.vault.azure.net/secrets/Password=S3cr3tXYZ",
  "https://evil.example.com/secrets/x?sig=SIGSECRETXYZ",
  "https://u:S3cr3tXYZ@evil.example.com/secrets/x",
  "https://acct.blob.core.windows.net/restores?sv=2024-08-04&sr=c&sp=rwl&se=2030-01-01&sig=SIGSECRETXYZ",
  "https://acct.blob.core.windows.net/restores/?sig=SIGSECRETXYZ",
  "https://u:S3cr3tXYZ@acct.blob.core.windows.net/restores",
  "http://127.0.0.1:10000/devstoreaccount1/restores?sig=SIGSECRETXYZ",
  "https://acct.blob.core.windows.net/restores#sig=SIGSECRETXYZ",
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/srv?sig=SIGSECRETXYZ",
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/srv;Password=S3cr3tXYZ",
  "R/2026-01-04T02:30:00Z/P1D?sig=SIGSECRETXYZ",
  "Europe/S3cr3tXYZ@h",
  "P1D;Password=S3cr3tXYZ",
  "sig=SIGSECRETXYZ",
] as const;

/** Strings that have broken parsers, validators, filters and shells elsewhere. */
const nastyStrings = [
  "",
  " ",
  "\t\n",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "..",
  "../../etc/passwd",
  "a/../b",
  "%00",
  "%2e%2e%2f",
  "\u0000",
  "\u0000abc",
  "\ud800",
  "\udfff\ud800",
  "\u202e",
  "\ufeff",
  "é",
  "\u00df",
  "İ",
  "😀",
  "'",
  '"',
  "\\",
  "' or '1'='1",
  "'; DROP TABLE jobs; --",
  '"; DROP DATABASE postgres; --',
  "x\" OR \"1\"=\"1",
  "${process.env}",
  "$(id)",
  "`id`",
  "; rm -rf /",
  "| cat /etc/passwd",
  "--help",
  "-h",
  "--dbname=postgres://x",
  "<script>alert(1)</script>",
  "{{7*7}}",
  "a".repeat(64),
  "a".repeat(2049),
  "1e400",
  "NaN",
  "Infinity",
  "-0",
  "0x10",
  "P",
  "P0D",
  "PT0S",
  "P1D",
  "P10Y",
  "P10Y1D",
  "P3650D",
  "P99999999999999999999Y",
  "P1.5D",
  "-P1D",
  "p1d",
  "PT1H",
  "PT5H",
  "PT24H",
  "R/2026-01-04T02:30:00Z/P1D",
  "R/2026-02-30T02:30:00Z/P1D",
  "R/9999-12-31T23:59:59Z/PT1H",
  "R5/2026-01-04T02:30:00Z/P1D",
  "R/2026-01-04T24:00:00Z/P1D",
  "Europe/Berlin",
  "UTC",
  "Etc/GMT+14",
  "+01:00",
  "America/Argentina/ComodRivadavia",
  "Mars/Olympus",
  "../Europe/Berlin",
  "Default",
  "Weekly",
  "Yearly",
  "FirstOfWeek",
  "database",
  "flexibleServer",
  "blob",
  "env:",
  "env:PATH",
  "env:A B",
  "env:PGVAULT_NOT_SET_ANYWHERE",
  "env:PGVAULT_SECRET_FUZZ_PG",
  "env:PGVAULT_SECRET_",
  "env:FOREIGN_PG",
  "env:AzureWebJobsStorage",
  "https://othervault.vault.azure.net/secrets/sales-backup",
  "https://myvault.vault.azure.net/secrets/sales-backup",
  "pg-sales.postgres.database.azure.com",
  "pg-sales.postgres.database.azure.com.",
  "PG-SALES.POSTGRES.DATABASE.USGOVCLOUDAPI.NET",
  "postgres.database.azure.com",
  "pg.postgres.database.azure.com.evil.example",
  "evil-postgres.database.chinacloudapi.cn",
  "pg.example.com.",
  "https://myvault.vault.azure.net/secrets/",
  "https://myvault.vault.azure.net.evil.com/secrets/x",
  "http://myvault.vault.azure.net/secrets/x",
  "https://acct.blob.core.windows.net",
  "https://acct.blob.core.windows.net.evil.com/c",
  "https://169.254.169.254/metadata",
  "file:///etc/passwd",
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/",
  "/subscriptions//resourceGroups//providers/Microsoft.DBforPostgreSQL/flexibleServers/x",
  "localhost",
  "127.0.0.1",
  "::1",
  "[::1]",
  "0.0.0.0",
  "999.1.1.1",
  "10.1",
  "-leading-hyphen",
  "rp-20260104T023007Z-1a2b3c4d",
  "rp-99999999T999999Z-zzzzzzzz",
  "*",
  "backup-x-20260101T000000Z-00000000",
];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...nastyStrings) },
  { weight: 2, arbitrary: fc.constantFrom(...secretSeeds) },
  { weight: 2, arbitrary: fc.string() },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...nastyStrings, ...secretSeeds), fc.string({ maxLength: 6 })).map(([a, b]) => a + b) },
);

/** A JSON value as text-to-be: raw literals (numbers JSON.stringify cannot write, like 1e400), arrays, objects as key lists. */
export type JsonTree =
  | { kind: "raw"; text: string }
  | { kind: "array"; items: JsonTree[] }
  | { kind: "object"; entries: [string, JsonTree][] };

const raw = (text: string): JsonTree => ({ kind: "raw", text });

export function renderJson(tree: JsonTree): string {
  if (tree.kind === "raw") return tree.text;
  if (tree.kind === "array") return `[${tree.items.map(renderJson).join(",")}]`;
  return `{${tree.entries.map(([key, value]) => `${JSON.stringify(key)}:${renderJson(value)}`).join(",")}}`;
}

export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__") },
  { weight: 2, arbitrary: hostileString },
);

export const hostileScalar: fc.Arbitrary<JsonTree> = fc.oneof(
  { weight: 4, arbitrary: hostileString.map((text) => raw(JSON.stringify(text))) },
  { weight: 1, arbitrary: fc.constantFrom("null", "true", "false").map(raw) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => raw(JSON.stringify(n))) },
  { weight: 1, arbitrary: fc.integer().map((n) => raw(String(n))) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map((n) => raw(String(n))) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("1e400", "-1e400", "-0", "0.0", "5432.0", "5432e0", "65536", "0", "-1", "4294967297", "9007199254740993", "1E-400")
      .map(raw),
  },
);

export const hostileJson: fc.Arbitrary<JsonTree> = fc.letrec<{ tree: JsonTree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 4, arbitrary: hostileScalar },
    { weight: 1, arbitrary: fc.array(tie("tree"), { maxLength: 4 }).map((items): JsonTree => ({ kind: "array", items })) },
    {
      weight: 1,
      arbitrary: fc.array(fc.tuple(hostileKey, tie("tree")), { maxLength: 4 }).map((entries): JsonTree => ({ kind: "object", entries })),
    },
  ),
})).tree;

/**
 * Variations of a valid body: every field kept, replaced by a hostile value of any type or dropped, with hostile
 * extra keys; arrays with items changed, added or removed. `rate` "low" changes about one field in ten, so many
 * bodies pass validation and reach what comes after it; "high" changes most of them.
 */
export function shapedLike(template: unknown, rate: "low" | "high" = "high"): fc.Arbitrary<JsonTree> {
  const keep = rate === "low" ? 40 : 3;
  const dropFreq = rate === "low" ? 60 : 10;
  if (Array.isArray(template)) {
    const items = fc.tuple(...template.map((item) => shapedLike(item, rate)));
    return fc.oneof(
      { weight: keep, arbitrary: items.map((list): JsonTree => ({ kind: "array", items: list })) },
      { weight: 1, arbitrary: fc.tuple(items, fc.array(hostileJson, { minLength: 1, maxLength: 30 })).map(([list, more]): JsonTree => ({ kind: "array", items: [...list, ...more] })) },
      { weight: 1, arbitrary: fc.constant<JsonTree>({ kind: "array", items: [] }) },
      { weight: 1, arbitrary: hostileJson },
    );
  }
  if (typeof template === "object" && template !== null) {
    const fields = Object.entries(template).map(([key, value]) =>
      fc.option(shapedLike(value, rate).map((tree): [string, JsonTree] => [key, tree]), { freq: dropFreq, nil: undefined }),
    );
    const extras = fc.oneof(
      { weight: keep, arbitrary: fc.constant<[string, JsonTree][]>([]) },
      { weight: 1, arbitrary: fc.array(fc.tuple(hostileKey, hostileJson), { minLength: 1, maxLength: 2 }) },
    );
    const object = fc.tuple(fc.tuple(...fields), extras, fc.boolean()).map(([kept, extra, extraFirst]): JsonTree => {
      const known = kept.filter((entry): entry is [string, JsonTree] => entry !== undefined);
      return { kind: "object", entries: extraFirst ? [...extra, ...known] : [...known, ...extra] };
    });
    return fc.oneof({ weight: keep * 3, arbitrary: object }, { weight: 1, arbitrary: hostileJson });
  }
  return fc.oneof(
    { weight: keep, arbitrary: fc.constant(raw(JSON.stringify(template))) },
    { weight: 2, arbitrary: hostileScalar },
    { weight: 1, arbitrary: hostileJson },
  );
}

/** Request body text: a near-valid shape, any JSON, not JSON at all, empty, or over the 64 KiB cap. */
export function hostileBody(template: unknown): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 8, arbitrary: shapedLike(template, "low").map(renderJson) },
    { weight: 3, arbitrary: shapedLike(template, "high").map(renderJson) },
    { weight: 2, arbitrary: hostileJson.map(renderJson) },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.constantFrom(undefined, "", "{", "[", '{"a":', "nul", "{}", "[]", '"x"', "0", "{} {}", '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}') },
    { weight: 1, arbitrary: fc.constantFrom(`{"pad":"${"x".repeat(70 * 1024)}"}`, `[${"1,".repeat(40 * 1024)}1]`, "[".repeat(100_000), `{"a":"${"é".repeat(40 * 1024)}"}`) },
  );
}

/** A route parameter: a valid name (sometimes one of `known`), or anything at all. */
export function hostileName(known: readonly string[] = []): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{2,62}$/) },
    ...(known.length > 0 ? [{ weight: 3, arbitrary: fc.constantFrom(...known) }] : []),
    { weight: 2, arbitrary: hostileString },
  );
}

/** Query parameters: the route's own names with hostile values, and hostile names. */
export function hostileQuery(names: readonly string[] = []): fc.Arbitrary<[string, string][]> {
  const name = names.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: hostileKey }) : hostileKey;
  return fc.array(fc.tuple(name, hostileString), { maxLength: 4 });
}
