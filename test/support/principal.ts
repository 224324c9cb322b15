/** `x-ms-client-principal` headers as App Service authentication sends them, for tests of role checks. */

export const longRoleType = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";

/** A header as App Service sends it for a Microsoft Entra user with these app roles (under `roles`, as Entra does). */
export function principalHeader(roleValues: readonly string[], roleType = longRoleType, claimType = "roles"): string {
  const principal = {
    auth_typ: "aad",
    name_typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    role_typ: roleType,
    claims: [
      { typ: "name", val: "Ada Operator" },
      { typ: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", val: "ada@example.com" },
      ...roleValues.map((val) => ({ typ: claimType, val })),
    ],
  };
  return Buffer.from(JSON.stringify(principal)).toString("base64");
}
