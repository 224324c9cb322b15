/**
 * A name's shard out of `shards`: FNV-1a (32-bit) of its UTF-16 code units, so every host and every run puts a
 * name in the same one. Used to spread the scheduler's claims over partitions and the summaries' weekly recount
 * over nights.
 */
export function nameShard(name: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return hash % shards;
}
