// Deterministic test bytes shared by the block-layer proofs and the block fuzz corpus.

/** Deterministic pseudo-random bytes (xorshift), so a failing case is the same on every run. */
export function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
