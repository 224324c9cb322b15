/**
 * The two connection-string formats a secret may hold (SPEC section 5): only user, password and SSL mode are
 * taken from them, and no error ever quotes the value.
 */
import { describe, expect, test } from "vitest";
import { parseCredentials } from "../../shared/secrets/credentialsFormat";
import { expectPgVaultError } from "./leakCheck";

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
