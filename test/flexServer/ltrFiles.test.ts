/** What each file of a Flexible Server point is (shared/flexServer/ltrFiles.ts), as the restore guide names them. */
import { expect, test } from "vitest";
import { ltrDatabaseFiles, ltrFileOf, ltrRolesFile } from "../../shared/flexServer/ltrFiles";

test("when files are named as the restore guide names them, in any case, then each gets its kind and a database its name", () => {
  expect(ltrFileOf("ltr-x-0/sales_database.sql")).toEqual({ blobPath: "ltr-x-0/sales_database.sql", kind: "database", database: "sales" });
  expect(ltrFileOf("ltr-x-0/My_App_Database.SQL")).toEqual({ blobPath: "ltr-x-0/My_App_Database.SQL", kind: "database", database: "My_App" });
  expect(ltrFileOf("ltr-x-1/Roles.sql").kind).toBe("roles");
  expect(ltrFileOf("ltr-x-1/TABLESPACE.sql").kind).toBe("tablespace");
  expect(ltrFileOf("ltr-x-1/schema.sql").kind).toBe("schema");
});

test("when a file is none of those, or only the suffix, then it is 'other' and never taken for a database", () => {
  expect(ltrFileOf("ltr-x-0/_database.sql").kind).toBe("other");
  expect(ltrFileOf("ltr-x-0/metadata.json").kind).toBe("other");
  expect(ltrFileOf("ltr-x-0/sales_database.sql.tmp").kind).toBe("other");
});

test("when a point lists its files, then its databases come in name order and its roles file is found", () => {
  const rp = { blobs: ["ltr-x-1/zeta_database.sql", "ltr-x-0/roles.sql", "ltr-x-0/alpha_database.sql", "ltr-x-1/schema.sql"] };
  expect(ltrDatabaseFiles(rp).map((file) => file.database)).toEqual(["alpha", "zeta"]);
  expect(ltrRolesFile(rp)?.blobPath).toBe("ltr-x-0/roles.sql");
  expect(ltrRolesFile({ blobs: ["ltr-x-0/alpha_database.sql"] })).toBeUndefined();
});
