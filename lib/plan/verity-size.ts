/**
 * repart's calculate_verity_hash_size(): an upper bound for a dm-verity hash partition,
 * used to size a hash partition from its data partition's SizeMaxBytes= before any data
 * exists. Superblock + root block + every level below the root that has more than one
 * block's worth of hashes (kernel device-mapper/verity.rst, "Hash tree"); sha256 digests.
 */
export function estimateVerityHashSize(dataBytes: number, hashBlockSize: number, dataBlockSize: number): number {
  const hashesPerBlock = Math.floor(hashBlockSize / 32);
  let hashBlocks = 2;
  let remaining = Math.ceil(dataBytes / dataBlockSize);
  while (remaining > hashesPerBlock) {
    const levelBlocks = Math.ceil(remaining / hashesPerBlock);
    hashBlocks += levelBlocks;
    remaining = levelBlocks;
  }
  return hashBlocks * hashBlockSize;
}
