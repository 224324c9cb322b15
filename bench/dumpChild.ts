/**
 * One run of the app's backup path, alone in its own Node process so its peak RSS is the app's: `dumpToVault`
 * streams pg_dump into the vault. Started (compiled) by bench/common.ts as `node dist-bench/bench/dumpChild.js
 * <expectedBytes> <recoveryPointId> [<keyRef>]` with VaultStorage and PG_BIN_DIR set and the database's credentials
 * in the libpq environment; with a keyRef the dump is encrypted as an encrypting policy's would be (the key is
 * resolved and the data key wrapped inside the measured time). BENCH_COMPRESSION (`zstd`, `zstd:3`, `gzip:6`,
 * `none`; default: a policy's default) is the policy's compression setting. BENCH_TABLE_DIGESTS=off turns the
 * table digests off (pg_dump then writes straight into zstd), to measure what they cost. Prints one JSON line:
 * ChildResult.
 */
import type { StoredDump } from "../shared/backup/committedDump";
import { dumpToVault } from "../shared/backup/dumpToVault";
import { effectiveCompression } from "../shared/compression/compressionSettings";
import { compressionAlgorithms, type PolicyCompression } from "../shared/domain";
import { resolveKey } from "../shared/encryption/dataKeys";
import { measureAndPrint, paramsFromEnv, type Measurement } from "./child";

export type ChildResult = StoredDump & Measurement;

const [expectedBytes, recoveryPointId, keyRef] = process.argv.slice(2);
if (!expectedBytes || !recoveryPointId) throw new Error("usage: dumpChild.js <expectedBytes> <recoveryPointId> [<keyRef>]");

function compressionFromEnv(): PolicyCompression | undefined {
  const [name, level] = (process.env.BENCH_COMPRESSION ?? "").split(":");
  const algorithm = compressionAlgorithms.find((candidate) => candidate === name);
  if (!name) return undefined;
  if (!algorithm) throw new Error(`BENCH_COMPRESSION: unknown algorithm '${name}'`);
  return { algorithm, ...(level ? { level: Number(level) } : {}) };
}

measureAndPrint(async () =>
  dumpToVault(paramsFromEnv(), {
    instanceName: "bench",
    recoveryPointId,
    expectedBytes: Number(expectedBytes),
    compression: effectiveCompression(compressionFromEnv()),
    ...(process.env.BENCH_TABLE_DIGESTS === "off" ? { tableDigests: false } : {}),
    ...(keyRef ? { encryption: { key: await resolveKey(keyRef) } } : {}),
  }),
);
