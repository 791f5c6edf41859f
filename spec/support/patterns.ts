/** Deterministic, mildly compressible test bytes (file contents of the edge-case trees). */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let index = 0; index < length; index++) out[index] = (index * 31 + seed * 17 + (index >> 8)) & 0xff;
  return out;
}
