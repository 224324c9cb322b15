/**
 * HTTP route templates for the local host: matching paths (below `/api/`) to the routes pgvault registers, and
 * choosing among several registrations by specificity and method.
 */
import { describe, expect, test } from "vitest";
import { compileRoute, matchRoute, selectRoute, type CompiledRoute } from "../../local-host/routes";

const match = (template: string, path: string) => matchRoute(compileRoute(template), path);

/** The HTTP registrations in functions/*.ts, in their registration order. */
const pgvaultRoutes: [string, string, string[]][] = [
  ["putBackupInstance", "backupInstances/{name}", ["PUT"]],
  ["getBackupInstance", "backupInstances/{name}", ["GET"]],
  ["listBackupInstances", "backupInstances", ["GET"]],
  ["previewBackupPolicy", "backupPolicies/preview", ["POST"]],
  ["putBackupPolicy", "backupPolicies/{name}", ["PUT"]],
  ["getBackupPolicy", "backupPolicies/{name}", ["GET"]],
  ["listBackupPolicies", "backupPolicies", ["GET"]],
  ["deleteBackupPolicy", "backupPolicies/{name}", ["DELETE"]],
  ["health", "health", ["GET"]],
  ["getJob", "jobs/{id}", ["GET"]],
  ["startOnDemandBackup", "backupInstances/{name}/backup", ["POST"]],
  ["listRecoveryPoints", "backupInstances/{name}/recoveryPoints", ["GET"]],
  ["getRecoveryPoint", "backupInstances/{name}/recoveryPoints/{rpId}", ["GET"]],
];

type Candidate = { route: CompiledRoute; methods: string[]; value: string };

function candidates(routes: [string, string, string[]][]): Candidate[] {
  return routes.map(([value, template, methods]) => ({ route: compileRoute(template), methods, value }));
}

describe("matchRoute on pgvault's routes", () => {
  test("literal routes match case-insensitively, with or without a trailing slash", () => {
    for (const path of ["backupPolicies", "backuppolicies", "BACKUPPOLICIES/", "/backupPolicies"]) {
      expect(match("backupPolicies", path), path).toEqual({});
    }
    expect(match("health", "health")).toEqual({});
    expect(match("health", "health/")).toEqual({});
    expect(match("health", "healthz")).toBeUndefined();
    expect(match("health", "health/x")).toBeUndefined();
    expect(match("backupPolicies", "backupPolicies/daily")).toBeUndefined();
  });

  test("parameters capture one non-empty segment, keeping its case", () => {
    expect(match("backupPolicies/{name}", "backupPolicies/Daily")).toEqual({ name: "Daily" });
    expect(match("backupPolicies/{name}", "backupPolicies/daily/")).toEqual({ name: "daily" });
    expect(match("backupPolicies/{name}", "backupPolicies")).toBeUndefined();
    expect(match("backupPolicies/{name}", "backupPolicies/")).toBeUndefined();
    expect(match("backupPolicies/{name}", "backupPolicies/a/b")).toBeUndefined();
    expect(match("backupPolicies/{name}", "backupPolicies//")).toBeUndefined();
    expect(match("jobs/{id}", "jobs/3f2c9a")).toEqual({ id: "3f2c9a" });
    expect(match("backupInstances/{name}/backup", "backupInstances/db1/backup")).toEqual({ name: "db1" });
    expect(match("backupInstances/{name}/backup", "backupInstances/db1/Backup")).toEqual({ name: "db1" });
    expect(match("backupInstances/{name}/backup", "backupInstances//backup")).toBeUndefined();
    expect(match("backupInstances/{name}/recoveryPoints/{rpId}", "backupInstances/db1/recoveryPoints/rp-1")).toEqual({
      name: "db1",
      rpId: "rp-1",
    });
  });

  test("percent-encoded characters are decoded, per segment", () => {
    expect(match("backupPolicies/{name}", "backupPolicies/my%20policy")).toEqual({ name: "my policy" });
    expect(match("backupPolicies/{name}", "backupPolicies/caf%C3%A9")).toEqual({ name: "café" });
    // %2F does not split the path: it arrives as "/" inside the one value.
    expect(match("backupPolicies/{name}", "backupPolicies/a%2Fb")).toEqual({ name: "a/b" });
    expect(match("backupPolicies/{name}", "backup%50olicies/x")).toEqual({ name: "x" });
    expect(match("backupPolicies/{name}", "backupPolicies/a+b")).toEqual({ name: "a+b" }); // + is not a space in paths
    expect(match("backupPolicies/{name}", "backupPolicies/%E0%A4%A")).toBeUndefined();
  });
});

describe("compileRoute and matchRoute: template features", () => {
  test("an optional last parameter may be absent", () => {
    expect(match("items/{id?}", "items")).toEqual({});
    expect(match("items/{id?}", "items/")).toEqual({});
    expect(match("items/{id?}", "items/5")).toEqual({ id: "5" });
    expect(match("items/{id:int?}", "items/x")).toBeUndefined();
    expect(match("items/{id:int?}", "items")).toEqual({});
  });

  test("catch-all takes the rest of the path, decoded", () => {
    expect(match("files/{*rest}", "files/a/b%20c/d")).toEqual({ rest: "a/b c/d" });
    expect(match("files/{**rest}", "files/a/b")).toEqual({ rest: "a/b" });
    expect(match("files/{*rest}", "files")).toEqual({});
    expect(match("files/{*rest}", "files/")).toEqual({});
    expect(match("files/{*rest}", "other/a")).toBeUndefined();
  });

  test("the empty template matches only the root", () => {
    expect(match("", "")).toEqual({});
    expect(match("", "/")).toEqual({});
    expect(match("", "health")).toBeUndefined();
    expect(match("health", "")).toBeUndefined();
  });

  test.each<[string, string[], string[]]>([
    ["{id:int}", ["42", "-7", "2147483647"], ["4.2", "abc", "2147483648", ""]],
    ["{id:long}", ["2147483648", "-9223372036854775808"], ["9223372036854775808", "1e3"]],
    ["{name:alpha}", ["abc", "ABC"], ["abc1", "a-b", "é"]],
    [
      "{x:guid}",
      [
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "0F8FAD5BD9CB469FA16570867728950E",
        "{0f8fad5b-d9cb-469f-a165-70867728950e}",
        "(0f8fad5b-d9cb-469f-a165-70867728950e)",
      ],
      ["not-a-guid", "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5b-d9cb-469f-a165-70867728950e0"],
    ],
    ["{flag:bool}", ["true", "False"], ["yes", "1"]],
    ["{n:int:min(1)}", ["1", "99"], ["0", "-1", "x"]],
    ["{n:range(1,10)}", ["1", "10"], ["0", "11"]],
    ["{s:length(2,3)}", ["ab", "abc"], ["a", "abcd"]],
    ["{s:maxlength(2)}", ["ab"], ["abc"]],
    ["{s:regex(^[a-z]{{2}}$)}", ["ab", "AB"], ["abc", "a1"]],
    ["{d:datetime}", ["anything"], []], // unknown to this module: accepted without checking
    ["{v:someCustom(1)}", ["anything"], []],
  ])("constraint %s", (parameter, accepted, rejected) => {
    const route = compileRoute(`x/${parameter}`);
    for (const value of accepted) expect(matchRoute(route, `x/${encodeURIComponent(value)}`), value).toBeDefined();
    for (const value of rejected) expect(matchRoute(route, `x/${encodeURIComponent(value)}`), value).toBeUndefined();
  });

  test.each([
    ["a/{b}.{c}", /"a\/\{b\}\.\{c\}"/],
    ["a/x{b}", /mixes literal text and parameters/],
    ["a/{id:int}x", /mixes literal text and parameters/],
    ["{a=1}", /default values/],
    ["{*rest}/x", /must be the last segment/],
    ["{a?}/x", /must be the last segment/],
    ["{a}/{a}", /parameter "a" appears twice/],
    ["{Name}/{name}", /appears twice/],
    ["a//b", /empty segment/],
    ["{}", /is not \{name\}/],
    ["{*rest?}", /cannot be optional/],
    ["{a:}", /malformed/],
    ["{a:regex(()}", /constraint "regex\(\(\)": Invalid regular expression/],
  ])("rejects the template %j", (template, message) => {
    expect(() => compileRoute(template)).toThrow(message);
    expect(() => compileRoute(template)).toThrow(`Unsupported route template "${template}"`);
  });
});

describe("selectRoute", () => {
  const routes = candidates(pgvaultRoutes);

  test.each([
    ["GET", "backupPolicies", "listBackupPolicies", {}],
    ["GET", "backupPolicies/", "listBackupPolicies", {}],
    ["PUT", "backupPolicies/daily", "putBackupPolicy", { name: "daily" }],
    ["GET", "backupPolicies/daily", "getBackupPolicy", { name: "daily" }],
    ["delete", "backupPolicies/daily", "deleteBackupPolicy", { name: "daily" }],
    ["POST", "backupPolicies/preview", "previewBackupPolicy", {}],
    ["GET", "backupPolicies/preview", "getBackupPolicy", { name: "preview" }],
    ["GET", "backupInstances", "listBackupInstances", {}],
    ["PUT", "backupInstances/db1", "putBackupInstance", { name: "db1" }],
    ["POST", "backupInstances/db1/backup", "startOnDemandBackup", { name: "db1" }],
    ["GET", "backupInstances/db1/recoveryPoints", "listRecoveryPoints", { name: "db1" }],
    ["GET", "backupInstances/db%201/recoveryPoints/rp%3A1", "getRecoveryPoint", { name: "db 1", rpId: "rp:1" }],
    ["GET", "jobs/abc", "getJob", { id: "abc" }],
    ["GET", "HEALTH", "health", {}],
  ])("%s %s -> %s", (method, path, value, params) => {
    expect(selectRoute(routes, method, path)).toEqual({ value, params });
  });

  test("a path that matches only routes for other methods is 405, with the allowed methods", () => {
    expect(selectRoute(routes, "PATCH", "backupPolicies/daily")).toEqual({
      methodNotAllowed: true,
      allow: ["DELETE", "GET", "PUT"],
    });
    expect(selectRoute(routes, "POST", "health")).toEqual({ methodNotAllowed: true, allow: ["GET"] });
    expect(selectRoute(routes, "GET", "backupInstances/db1/backup")).toEqual({ methodNotAllowed: true, allow: ["POST"] });
    expect(selectRoute(routes, "HEAD", "health")).toEqual({ methodNotAllowed: true, allow: ["GET"] });
  });

  test("a path no route matches is undefined (404)", () => {
    expect(selectRoute(routes, "GET", "nothing/here")).toBeUndefined();
    expect(selectRoute(routes, "GET", "jobs")).toBeUndefined();
    expect(selectRoute(routes, "GET", "backupInstances/db1/recoveryPoints/rp1/extra")).toBeUndefined();
  });

  test("literal segments win over parameters, whatever the registration order", () => {
    const generic: [string, string, string[]] = ["generic", "backupInstances/{name}/{other}", ["GET", "POST"]];
    for (const order of [[generic, ...pgvaultRoutes], [...pgvaultRoutes, generic]]) {
      const withGeneric = candidates(order);
      expect(selectRoute(withGeneric, "POST", "backupInstances/db1/backup")).toEqual({
        value: "startOnDemandBackup",
        params: { name: "db1" },
      });
      expect(selectRoute(withGeneric, "GET", "backupInstances/db1/recoveryPoints")).toEqual({
        value: "listRecoveryPoints",
        params: { name: "db1" },
      });
      expect(selectRoute(withGeneric, "POST", "backupInstances/db1/restore")).toEqual({
        value: "generic",
        params: { name: "db1", other: "restore" },
      });
      // The literal route does not take GET, so the less specific route that does gets the request.
      expect(selectRoute(withGeneric, "GET", "backupInstances/db1/backup")).toEqual({
        value: "generic",
        params: { name: "db1", other: "backup" },
      });
    }
  });

  test("constrained parameters beat plain ones, plain ones beat catch-alls, a shorter literal beats an optional", () => {
    const pick = (routes: [string, string, string[]][], path: string) => {
      const forward = selectRoute(candidates(routes), "GET", path);
      const backward = selectRoute(candidates([...routes].reverse()), "GET", path);
      expect(backward, "independent of registration order").toEqual(forward);
      return forward && "value" in forward ? forward.value : forward;
    };
    const items: [string, string, string[]][] = [
      ["byName", "items/{name}", ["GET"]],
      ["byId", "items/{id:int}", ["GET"]],
      ["rest", "items/{*rest}", ["GET"]],
    ];
    expect(pick(items, "items/5")).toBe("byId");
    expect(pick(items, "items/abc")).toBe("byName");
    expect(pick(items, "items/a/b")).toBe("rest");
    expect(pick(items, "items")).toBe("rest");

    const optional: [string, string, string[]][] = [
      ["optional", "things/{id?}", ["GET"]],
      ["list", "things", ["GET"]],
    ];
    expect(pick(optional, "things")).toBe("list");
    expect(pick(optional, "things/1")).toBe("optional");
  });

  test("equally specific routes: the earlier registration wins", () => {
    const routes = candidates([
      ["first", "x/{a}", ["GET"]],
      ["second", "x/{b}", ["GET"]],
    ]);
    expect(selectRoute(routes, "GET", "x/1")).toEqual({ value: "first", params: { a: "1" } });
  });

  test("an empty method list allows every method", () => {
    const routes = candidates([["any", "anything", []]]);
    expect(selectRoute(routes, "OPTIONS", "anything")).toEqual({ value: "any", params: {} });
  });
});
