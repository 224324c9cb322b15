/**
 * Roles from App Service authentication (issue 8): the `x-ms-client-principal` header, decoded and checked against
 * the role a route needs. Trusted only in `appServiceRoles` mode; in `functionKeys` mode it is ignored.
 */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { authorize, parseClientPrincipal } from "../../shared/auth/clientPrincipal";
import { roles, routeRoles, satisfies, type Role } from "../../shared/auth/roles";
import { longRoleType, principalHeader } from "../support/principal";

const encode = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64");

describe("reading the principal", () => {
  test("when Entra puts app roles under 'roles' while role_typ names the long claim type, then they are read", () => {
    expect(parseClientPrincipal(principalHeader(["Backup.Operator"]))?.roles).toEqual(new Set(["Backup.Operator"]));
  });

  test("when roles come under the principal's own role_typ, then they are read too", () => {
    expect(parseClientPrincipal(principalHeader(["Backup.Admin"], "myroles", "myroles"))?.roles).toEqual(new Set(["Backup.Admin"]));
  });

  test("when claims of other types carry a role name, or roles are not pgvault's, then they grant nothing", () => {
    const header = encode({ role_typ: "roles", claims: [{ typ: "groups", val: "Backup.Admin" }, { typ: "roles", val: "Contributor" }, { typ: "roles", val: "backup.admin" }] });
    expect(parseClientPrincipal(header)?.roles).toEqual(new Set());
  });

  test.each([
    ["no header", undefined],
    ["an empty header", ""],
    ["text that is not base64", "not base64!"],
    ["base64 of text that is not JSON", encode("{not json")],
    ["base64 of a JSON array", encode([{ typ: "roles", val: "Backup.Admin" }])],
    ["base64 of null", encode("null")],
    ["a header over 32 KiB", encode({ claims: [{ typ: "roles", val: "Backup.Admin" }], pad: "x".repeat(32 * 1024) })],
  ])("when there is %s, then there is no principal", (_what, header) => {
    expect(parseClientPrincipal(header)).toBeUndefined();
  });

  test("when claims is missing or malformed, then the principal has no roles", () => {
    expect(parseClientPrincipal(encode({ auth_typ: "aad" }))?.roles).toEqual(new Set());
    expect(parseClientPrincipal(encode({ claims: [null, 1, "roles", { typ: "roles" }, { typ: "roles", val: 1 }, { typ: ["roles"], val: "Backup.Admin" }] }))?.roles).toEqual(new Set());
  });

  test("when the principal JSON carries __proto__ or constructor keys, then nothing is polluted and no role appears", () => {
    const header = encode('{"__proto__":{"roles":["Backup.Admin"]},"constructor":{"prototype":{"x":1}},"claims":[{"__proto__":{"typ":"roles","val":"Backup.Admin"}}]}');
    expect(parseClientPrincipal(header)?.roles).toEqual(new Set());
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
  });
});

describe("deciding", () => {
  const none: readonly Role[] = [];
  test.each([
    ...roles.flatMap((needed) => [none, ...roles.map((held) => [held])].map((held) => [held, needed] as const)),
  ])("when the caller holds %j and the route needs %s, then Admin covers Operator covers Reader", (held, needed) => {
    const decision = authorize(principalHeader(held), needed, "appServiceRoles", "GET jobs");
    const rank = (role: Role) => roles.indexOf(role);
    const expected = held.some((role) => rank(role) >= rank(needed));
    expect(decision.allowed).toBe(expected);
    if (!decision.allowed) {
      expect(decision).toMatchObject({ status: 403, code: "Forbidden" });
      expect(decision.message).toContain(`'${needed}'`);
    }
  });

  test("when there is no principal in appServiceRoles mode, then 401 Unauthorized names the role", () => {
    expect(authorize(undefined, "Backup.Admin", "appServiceRoles", "PUT backupPolicies/{name}")).toEqual({
      allowed: false,
      status: 401,
      code: "Unauthorized",
      message: "Sign in through the app's App Service authentication: PUT backupPolicies/{name} needs the role 'Backup.Admin' (or a higher one).",
    });
  });

  test("when the mode is functionKeys, then the header is ignored: no principal, a forged one, or garbage are all the same", () => {
    for (const header of [undefined, "", principalHeader([]), principalHeader(["Backup.Admin"]), "garbage"]) {
      expect(authorize(header, "Backup.Admin", "functionKeys", "PUT backupPolicies/{name}")).toEqual({ allowed: true });
    }
  });

  test("when any header at all arrives, then the answer is allowed, 401 or 403, never an exception", () => {
    const claim = fc.record({ typ: fc.oneof(fc.constantFrom("roles", longRoleType, "groups"), fc.string()), val: fc.oneof(fc.constantFrom(...roles, "backup.admin"), fc.string()) });
    const principal = fc.record({ auth_typ: fc.string(), role_typ: fc.oneof(fc.constant("roles"), fc.string()), claims: fc.array(claim, { maxLength: 5 }) }, { requiredKeys: [] });
    const header = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.jsonValue().map(encode), principal.map(encode));
    fc.assert(
      fc.property(header, fc.constantFrom(...roles), (value, needed) => {
        const decision = authorize(value, needed, "appServiceRoles", "GET jobs");
        if (decision.allowed) expect(satisfies(parseClientPrincipal(value)!.roles, needed)).toBe(true);
        else expect([401, 403]).toContain(decision.status);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the route table", () => {
  test("when a route reads (or previews a policy, storing nothing), then Reader suffices (but for a point's contents, read from its archive as a restore reads it); backup, restore, verify and cancel need Operator; changes, deletes and protecting discovered databases need Admin", () => {
    const byRole = (role: Role) => Object.entries(routeRoles).filter(([, needed]) => needed === role).map(([route]) => route).sort();
    expect(byRole("Backup.Reader").filter((route) => !route.startsWith("GET "))).toEqual(["POST backupPolicies/preview"]);
    expect(byRole("Backup.Operator")).toEqual(["GET backupInstances/{name}/recoveryPoints/{rpId}/contents", "POST backupInstances/{name}/backup", "POST backupInstances/{name}/restore", "POST backupInstances/{name}/verify", "POST jobs/{id}/cancel"]);
    // Discovery connects to a server with a secret the caller names: configuration, as protecting is.
    expect(byRole("Backup.Admin").filter((route) => !/^(PUT|DELETE) |\/undelete$/.test(route))).toEqual(["POST discoverDatabases", "POST protectDatabases"]);
    expect(Object.keys(routeRoles).some((route) => route.includes("health"))).toBe(false);
  });
});
