/** What each compression algorithm accepts, and what a policy without a `compression` setting gets. */
import type { CompressionAlgorithm, PolicyCompression } from "../domain";

export const compressionLevels: Record<Exclude<CompressionAlgorithm, "none">, { min: number; max: number; default: number }> = {
  // zstd's levels above 19 need --ultra and far more memory per thread; 1 is already denser than pg_dump's gzip.
  zstd: { min: 1, max: 19, default: 1 },
  gzip: { min: 1, max: 9, default: 6 },
};

export interface Compression {
  algorithm: CompressionAlgorithm;
  /** Absent for `none`. */
  level?: number;
}

/** The compression a new recovery point is written with: the policy's, its level defaulted, or zstd's default. */
export function effectiveCompression(setting: PolicyCompression | undefined): Compression {
  const algorithm = setting?.algorithm ?? "zstd";
  if (algorithm === "none") return { algorithm };
  return { algorithm, level: setting?.level ?? compressionLevels[algorithm].default };
}
