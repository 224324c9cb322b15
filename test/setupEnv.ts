/** Points the app's settings at the shared test services before any app module reads its config. */
import { inject } from "vitest";

process.env.VaultStorage = inject("vaultConnectionString");
process.env.PG_BIN_DIR = inject("postgres").binDir;
