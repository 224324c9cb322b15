/**
 * The two connection-string formats a secret may hold (SPEC section 5): user, password and SSL mode are taken
 * from them, and the server they name (host and port), which decides where they may be used. No error ever quotes
 * the value.
 */
import { describe, expect, test } from "vitest";
import { parseSecretValue, strongerSslMode } from "../../shared/secrets/credentialsFormat";
import { expectPgVaultError } from "./leakCheck";

const parseCredentials = (value: string) => parseSecretValue(value).credentials;
const serverOf = (value: string) => parseSecretValue(value).server;

describe("a libpq URI", () => {
  test("when the password is percent-encoded, then it comes back decoded with the URI's sslmode", () => {
    const credentials = parseCredentials("postgres://backup%40corp:p%40ss%3Aw%2Frd%25%20x@db.example.com:5432/app?sslmode=require");
    expect(credentials).toEqual({ user: "backup@corp", password: "p@ss:w/rd% x", sslMode: "require" });
  });

  test("when the scheme is postgresql:// and surrounding whitespace is present, then it parses the same way", () => {
    expect(parseCredentials("  postgresql://alice:s3cret@host/db?sslmode=verify-full\n")).toEqual({
      user: "alice",
      password: "s3cret",
      sslMode: "verify-full",
    });
  });

  test("when no sslmode is given, then libpq's default 'prefer' applies", () => {
    expect(parseCredentials("postgres://alice:s3cret@host/db").sslMode).toBe("prefer");
  });

  test("when the password is missing, then the format is unsupported and the user name is not quoted", async () => {
    await expectPgVaultError(() => parseCredentials("postgres://lonely-user@host/db"), "UserErrorSecretValueInUnsupportedFormat", ["lonely-user"]);
  });

  test("when the sslmode is not one libpq knows, then the format is unsupported and the password is not quoted", async () => {
    await expectPgVaultError(
      () => parseCredentials("postgres://alice:Very-Secret-1@host/db?sslmode=sometimes"),
      "UserErrorSecretValueInUnsupportedFormat",
      ["Very-Secret-1", "sometimes"],
    );
  });

  test("when the URI cannot be parsed, then the format is unsupported and nothing of it is quoted", async () => {
    await expectPgVaultError(
      () => parseCredentials("postgres://alice:Very-Secret-2@host:notaport/db"),
      "UserErrorSecretValueInUnsupportedFormat",
      ["Very-Secret-2", "notaport"],
    );
  });

  test("when the password holds a stray % that is not a valid escape, then the format is unsupported (not a raw URIError)", async () => {
    await expectPgVaultError(
      () => parseCredentials("postgres://alice:Very%zzSecret-3@host/db"),
      "UserErrorSecretValueInUnsupportedFormat",
      ["Very%zzSecret-3", "Very"],
    );
  });
});

describe("an ADO.NET-style string (the format Azure Backup uses)", () => {
  test("when it has the documented keys, then user, password and SSL mode come from it", () => {
    const credentials = parseCredentials(
      "Server=db.example.com;Database=app;Port=5432;User Id=backup_user;Password=Tr1cky=Pass;Ssl Mode=Require;",
    );
    expect(credentials).toEqual({ user: "backup_user", password: "Tr1cky=Pass", sslMode: "require" });
  });

  test("when the password is double-quoted and holds ';' and an escaped quote, then it is read whole", () => {
    const credentials = parseCredentials('Server=h;Database=d;User Id=u;Password="pa;ss""word";Ssl Mode=VerifyFull');
    expect(credentials).toEqual({ user: "u", password: 'pa;ss"word', sslMode: "verify-full" });
  });

  test("when the password is single-quoted and holds ';', then it is read whole", () => {
    expect(parseCredentials("User Id=u;Password='a;b''c';SSL Mode=verify-ca;").password).toBe("a;b'c");
  });

  test("when keys use other spellings and case (USERNAME, PWD, sslmode), then they are recognised", () => {
    expect(parseCredentials("host=h; USERNAME = u ; PWD = p ; sslmode = disable")).toEqual({
      user: "u",
      password: "p",
      sslMode: "disable",
    });
  });

  test("when no SSL mode is given, then 'prefer' applies", () => {
    expect(parseCredentials("Server=h;User Id=u;Password=p").sslMode).toBe("prefer");
  });

  test("when the password is missing, then the format is unsupported", async () => {
    await expectPgVaultError(() => parseCredentials("Server=h;User Id=only-user;"), "UserErrorSecretValueInUnsupportedFormat", ["only-user"]);
  });

  test("when a quoted value is never closed, then the format is unsupported and the password is not quoted", async () => {
    await expectPgVaultError(
      () => parseCredentials('Server=h;User Id=u;Password="Unclosed-Secret;Ssl Mode=Require'),
      "UserErrorSecretValueInUnsupportedFormat",
      ["Unclosed-Secret"],
    );
  });

  test("when text follows a closing quote, then the format is unsupported rather than a silently altered password", async () => {
    await expectPgVaultError(
      () => parseCredentials('Server=h;User Id=u;Password="Quoted-Secret"Xtail9;'),
      "UserErrorSecretValueInUnsupportedFormat",
      ["Quoted-Secret", "Xtail9"],
    );
  });

  test("when the SSL mode is unknown, then the format is unsupported and the password is not quoted", async () => {
    await expectPgVaultError(
      () => parseCredentials("Server=h;User Id=u;Password=Another-Secret;Ssl Mode=Maybe"),
      "UserErrorSecretValueInUnsupportedFormat",
      ["Another-Secret", "Maybe"],
    );
  });
});

describe("anything else", () => {
  test.each([
    ["a bare password", "JustAPassword-123"],
    ["an empty value", ""],
    ["JSON", '{"user":"u","password":"Json-Secret"}'],
    ["a mysql URI", "mysql://u:Mysql-Secret@host/db"],
  ])("when the value is %s, then the format is unsupported and not quoted", async (_label, value) => {
    const secretTexts = value ? [value, "Json-Secret", "Mysql-Secret"] : [];
    await expectPgVaultError(() => parseCredentials(value), "UserErrorSecretValueInUnsupportedFormat", secretTexts);
  });
});

describe("the server a secret names", () => {
  test.each([
    ["a URI with host and port", "postgres://u:p@pg.example.com:6432/db", { host: "pg.example.com", port: 6432 }],
    ["a URI without a port (5432, as libpq)", "postgresql://u:p@PG.Example.com./db", { host: "PG.Example.com.", port: 5432 }],
    ["a URI with an IPv6 literal", "postgres://u:p@[::1]:5433/db", { host: "::1", port: 5433 }],
    ["an ADO.NET string with Server and Port", "Server=pg.example.com;Port=6432;User Id=u;Password=p", { host: "pg.example.com", port: 6432 }],
    ["an ADO.NET string with Host and no Port", "Host=10.0.0.4;User Id=u;Password=p", { host: "10.0.0.4", port: 5432 }],
    ["an ADO.NET host with its port (Npgsql's host:port)", "Host=pg.example.com:6432;Username=u;Password=p", { host: "pg.example.com", port: 6432 }],
  ])("when it is %s, then that server comes back", (_what, value, server) => {
    expect(serverOf(value)).toEqual(server);
  });

  test("when an ADO.NET string names no Host or Server, then there is no server (such a secret is refused before any use)", () => {
    expect(serverOf("User Id=u;Password=p;Database=sales")).toBeUndefined();
  });

  test.each([
    ["several hosts", "postgres://u:Multi-Secret-1@h1,h2/db", "names several hosts"],
    ["several ADO.NET hosts", "Host=h1,h2;User Id=u;Password=Multi-Secret-2", "names several hosts"],
    ["a host in the query, which libpq would prefer", "postgres://u:Query-Secret-3@h/db?host=evil.example.com", "host, hostaddr or port in its query"],
    ["a port out of range", "Server=h;Port=70000;User Id=u;Password=Port-Secret-4", "port that is not a number"],
    ["two different ports", "Host=h:6432;Port=5432;User Id=u;Password=Port-Secret-5", "two different ports"],
    ["a host that is not a host name", "Server=h h;User Id=u;Password=Host-Secret-6", "host that is not a host name"],
  ])("when it names %s, then the format is unsupported and the password is not quoted", async (_what, value, reason) => {
    const error = await expectPgVaultError(() => parseSecretValue(value), "UserErrorSecretValueInUnsupportedFormat", [value.replace(/.*(\w+-Secret-\d).*/, "$1")]);
    expect(error.message).toContain(reason);
  });
});

test("when MIN_SSL_MODE raises a mode, then the stronger one wins, in libpq's order", () => {
  expect(strongerSslMode("disable", "require")).toBe("require");
  expect(strongerSslMode("prefer", "require")).toBe("require");
  expect(strongerSslMode("verify-full", "require")).toBe("verify-full");
  expect(strongerSslMode("verify-ca", "verify-full")).toBe("verify-full");
});
