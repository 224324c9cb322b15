/**
 * The definitions of the roles a database's dump refers to, read at backup time from the source server's catalogs
 * (inside pg_dump's own snapshot, by the contents record's counter) so a restore with `roles: "createMissing"`
 * can create them on another server. Written as `pg_dumpall --roles-only` writes them (rolesFile.ts reads both),
 * so a database point's roles are cleaned by exactly the rules of a Flexible Server point's roles file.
 *
 * Which roles: the owners of the objects pg_dump dumps, every grantee of their privileges (and of default
 * privileges, with their `FOR ROLE` role), the roles of row-security policies and user mappings; then every role
 * that is a member of those (the logins that use a group's grants), and every role those are members of. Predefined
 * `pg_` roles are neither recorded nor followed.
 *
 * Only what everyone may read: `pg_roles` (never `pg_authid`: no password is ever read, nor its expiry) and
 * `pg_auth_members`, so the backup user needs nothing beyond Azure Backup's grant script (CONNECT, USAGE, SELECT).
 */
import pg from "pg";

/**
 * Owners of dumped objects and the grantees of every ACL, as role oids (0 is PUBLIC, left out below). 16384 is the
 * first oid a user object gets (FirstNormalObjectId, src/include/access/transam.h): below it, the system's own.
 */
const namedRolesSql = `
  SELECT relowner AS oid FROM pg_catalog.pg_class WHERE oid >= 16384
  UNION SELECT nspowner FROM pg_catalog.pg_namespace WHERE oid >= 16384 OR nspname = 'public'
  UNION SELECT proowner FROM pg_catalog.pg_proc WHERE oid >= 16384
  UNION SELECT typowner FROM pg_catalog.pg_type WHERE oid >= 16384
  UNION SELECT collowner FROM pg_catalog.pg_collation WHERE oid >= 16384
  UNION SELECT conowner FROM pg_catalog.pg_conversion WHERE oid >= 16384
  UNION SELECT oprowner FROM pg_catalog.pg_operator WHERE oid >= 16384
  UNION SELECT opcowner FROM pg_catalog.pg_opclass WHERE oid >= 16384
  UNION SELECT opfowner FROM pg_catalog.pg_opfamily WHERE oid >= 16384
  UNION SELECT cfgowner FROM pg_catalog.pg_ts_config WHERE oid >= 16384
  UNION SELECT dictowner FROM pg_catalog.pg_ts_dict WHERE oid >= 16384
  UNION SELECT fdwowner FROM pg_catalog.pg_foreign_data_wrapper WHERE oid >= 16384
  UNION SELECT srvowner FROM pg_catalog.pg_foreign_server
  UNION SELECT evtowner FROM pg_catalog.pg_event_trigger
  UNION SELECT pubowner FROM pg_catalog.pg_publication
  UNION SELECT lomowner FROM pg_catalog.pg_largeobject_metadata
  UNION SELECT defaclrole FROM pg_catalog.pg_default_acl
  UNION SELECT unnest(polroles) FROM pg_catalog.pg_policy
  UNION SELECT umuser FROM pg_catalog.pg_user_mappings
  UNION SELECT e.grantee FROM (
    -- A grant to the object's owner is the owner's own default, on a system object as anywhere.
    SELECT relacl AS acl, relowner AS owner FROM pg_catalog.pg_class
    UNION ALL SELECT a.attacl, c.relowner FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid WHERE a.attacl IS NOT NULL
    UNION ALL SELECT nspacl, nspowner FROM pg_catalog.pg_namespace
    UNION ALL SELECT proacl, proowner FROM pg_catalog.pg_proc
    UNION ALL SELECT typacl, typowner FROM pg_catalog.pg_type
    UNION ALL SELECT lanacl, lanowner FROM pg_catalog.pg_language
    UNION ALL SELECT fdwacl, fdwowner FROM pg_catalog.pg_foreign_data_wrapper
    UNION ALL SELECT srvacl, srvowner FROM pg_catalog.pg_foreign_server
    UNION ALL SELECT lomacl, lomowner FROM pg_catalog.pg_largeobject_metadata
    UNION ALL SELECT defaclacl, 0 FROM pg_catalog.pg_default_acl
  ) acls(acl, owner) CROSS JOIN LATERAL pg_catalog.aclexplode(acls.acl) e WHERE e.grantee <> acls.owner`;

/** The named roles, their members (transitively), and what all of those are members of; without `pg_` roles. */
const recordedRolesSql = `
  WITH RECURSIVE named AS (
    SELECT r.oid FROM (${namedRolesSql}) n JOIN pg_catalog.pg_roles r ON r.oid = n.oid WHERE r.rolname !~ '^pg_'
  ), down(oid) AS (
    SELECT oid FROM named
    UNION SELECT m.member FROM pg_catalog.pg_auth_members m JOIN down d ON m.roleid = d.oid
  ), up(oid) AS (
    SELECT oid FROM down
    UNION SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN up u ON m.member = u.oid
  )
  SELECT r.oid, r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit
  FROM pg_catalog.pg_roles r JOIN up ON up.oid = r.oid WHERE r.rolname !~ '^pg_' ORDER BY r.rolname`;

interface RoleRow {
  oid: number;
  rolname: string;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolcanlogin: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
}

/** A membership; `options` is the catalog row as JSON, since PostgreSQL 16 added `inherit_option` and `set_option`. */
interface MembershipRow {
  role: string;
  member: string;
  options: { admin_option: boolean; inherit_option?: boolean; set_option?: boolean };
}

const ident = (name: string) => pg.escapeIdentifier(name);
const flag = (on: boolean, word: string) => (on ? word : `NO${word}`);

/**
 * The role definitions, as `pg_dumpall --roles-only` text (without passwords): `client` is connected to the dumped
 * database (in the snapshot pg_dump dumps). Superuser, replication and bypass-RLS are written as the source has
 * them; a restore's cleaning leaves them out, as it does for a Flexible Server roles file.
 */
export async function readSourceRoles(client: pg.Client): Promise<string> {
  const roles = (await client.query<RoleRow>(recordedRolesSql)).rows;
  const { rows: memberships } = await client.query<MembershipRow>(
    `SELECT g.rolname AS role, u.rolname AS member, pg_catalog.to_jsonb(m) AS options
     FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member
     WHERE m.member = ANY($1::oid[]) ORDER BY 1, 2`,
    [roles.map((role) => role.oid)],
  );
  const lines = ["-- Roles the dump refers to, recorded by pgvault from pg_roles and pg_auth_members (no passwords)."];
  for (const role of roles) {
    // pg_dumpall's order (dumpRoles).
    const attributes = [
      flag(role.rolsuper, "SUPERUSER"),
      flag(role.rolinherit, "INHERIT"),
      flag(role.rolcreaterole, "CREATEROLE"),
      flag(role.rolcreatedb, "CREATEDB"),
      flag(role.rolcanlogin, "LOGIN"),
      flag(role.rolreplication, "REPLICATION"),
      flag(role.rolbypassrls, "BYPASSRLS"),
      ...(role.rolconnlimit >= 0 ? [`CONNECTION LIMIT ${role.rolconnlimit}`] : []),
    ];
    lines.push(`CREATE ROLE ${ident(role.rolname)};`, `ALTER ROLE ${ident(role.rolname)} WITH ${attributes.join(" ")};`);
  }
  for (const { role, member, options } of memberships) {
    const withOptions = [
      ...(options.admin_option ? ["ADMIN OPTION"] : []),
      ...(options.inherit_option !== undefined ? [`INHERIT ${options.inherit_option ? "TRUE" : "FALSE"}`] : []),
      ...(options.set_option !== undefined ? [`SET ${options.set_option ? "TRUE" : "FALSE"}`] : []),
    ];
    lines.push(`GRANT ${ident(role)} TO ${ident(member)}${withOptions.length > 0 ? ` WITH ${withOptions.join(", ")}` : ""};`);
  }
  return `${lines.join("\n")}\n`;
}
