/** Points the app's settings at the shared test services before any app module reads its config. */
import { inject } from "vitest";

process.env.VaultStorage = inject("vaultConnectionString");
process.env.PG_BIN_DIR = inject("postgres").binDir;
// The test certificate stands in for the system's CA store (docs/configuration.md, PG_SSL_ROOT_CERT): the shared
// cluster presents it, so sslmode verify-full can be tested against a real server.
process.env.PG_SSL_ROOT_CERT = inject("tls").certFile;
