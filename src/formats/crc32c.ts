// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as VHDX headers, region tables and log entries use.
// Slicing-by-8: every VHDX in a chain has a 64 KiB region table to verify, so this is on the hot path.
const T = (() => {
  const t = new Int32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    let c = t[i];
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[s * 256 + i] = c;
    }
  }
  return t;
})();

export function crc32c(buf: Uint8Array, crc = 0): number {
  return ~update(~crc, buf, 0, buf.length) >>> 0;
}

/**
 * The checksummed VHDX structures are mostly zeros (a 64 KiB region table holds a few 32-byte entries), so a
 * trailing run of zeros is found with native compares and folded in with the zero-byte operator in O(log n),
 * instead of 8 table lookups per 8 bytes.
 */
function update(c: number, buf: Uint8Array, from: number, to: number): number {
  // short runs go through the table whole: folding a few zeros costs more than looking them up
  const end = to - from < 256 ? to : nonZeroEnd(buf, from, to);
  c = updateTable(c, buf, from, end);
  return to > end ? extendByZeros(c, to - end) : c;
}

const BIG = 64 * 1024;
const SMALL = 128;
const ZEROS = Buffer.alloc(BIG);
const compareRange = Buffer.prototype.compare;

/** Whether buf[end - n, end) is all zeros (n <= 64 KiB): one native compare, no view allocated. */
function zeroRun(buf: Uint8Array, end: number, n: number): boolean {
  return compareRange.call(buf, ZEROS, 0, n, end - n, end) === 0;
}

/**
 * The end of `buf[from, to)` without its trailing zero bytes (a 4 KiB VHDX header holds about 80 bytes of data, a
 * 64 KiB region table about as many): back from the end in zero blocks of doubling size (128 bytes to 64 KiB); the
 * block that holds data is halved down to 128 bytes, then bytes. Each byte is compared about twice, in about 20
 * native compares for a region table.
 */
export function nonZeroEnd(buf: Uint8Array, from: number, to: number): number {
  let end = to;
  for (let step = SMALL; end - from >= SMALL; step = Math.min(2 * step, BIG)) {
    const n = Math.min(step, end - from);
    if (zeroRun(buf, end, n)) { end -= n; continue; }
    // the last data byte is in [end - r, end): drop the upper half while it is zeros, else look inside it
    for (let r = n, h = r >> 1; h >= SMALL; h = r >> 1) {
      if (zeroRun(buf, end, h)) { end -= h; r -= h; } else r = h;
    }
    break;
  }
  while (end > from && buf[end - 1] === 0) end--;
  return end;
}

/** ZERO_OPS[k]: the register's linear map for 2^k zero bytes, as 32 columns (the image of each bit). */
const ZERO_OPS: Int32Array[] = (() => {
  const one = new Int32Array(32);
  for (let i = 0; i < 32; i++) {
    const v = (1 << i) >>> 0;
    one[i] = T[v & 0xff] ^ (v >>> 8);
  }
  const ops = [one];
  for (let k = 1; k < 32; k++) {
    const prev = ops[k - 1], sq = new Int32Array(32);
    for (let i = 0; i < 32; i++) sq[i] = applyOp(prev, prev[i]);
    ops.push(sq);
  }
  return ops;
})();

function applyOp(op: Int32Array, v: number): number {
  let r = 0;
  for (let i = 0; v !== 0; i++, v >>>= 1) if (v & 1) r ^= op[i];
  return r;
}

function extendByZeros(c: number, n: number): number {
  for (let k = 0; n > 0; k++, n = Math.floor(n / 2)) if (n % 2) c = applyOp(ZERO_OPS[k], c);
  return c;
}

function updateTable(c: number, buf: Uint8Array, from: number, to: number): number {
  let i = from;
  // bytewise up to a 4-byte aligned address, then two little-endian words per step (x86/arm64 are little-endian)
  while (i < to && (buf.byteOffset + i) % 4 !== 0) c = T[(c ^ buf[i++]) & 0xff] ^ (c >>> 8);
  const words = Math.floor((to - i) / 8) * 2;
  if (words > 0 && LITTLE_ENDIAN) {
    const w = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let k = 0; k < words; k += 2) {
      const a = c ^ w[k], b = w[k + 1];
      c = T[1792 + (a & 0xff)] ^ T[1536 + ((a >>> 8) & 0xff)] ^ T[1280 + ((a >>> 16) & 0xff)] ^ T[1024 + (a >>> 24)]
        ^ T[768 + (b & 0xff)] ^ T[512 + ((b >>> 8) & 0xff)] ^ T[256 + ((b >>> 16) & 0xff)] ^ T[b >>> 24];
    }
    i += words * 4;
  }
  for (; i < to; i++) c = T[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return c;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const ZERO4 = new Uint8Array(4);

/** CRC-32C of `buf` computed with the 4-byte checksum field at `at` taken as zero (no copy). */
export function crc32cWithZeroField(buf: Uint8Array, at: number): number {
  let c = update(~0, buf, 0, at);
  c = update(c, ZERO4, 0, 4);
  return ~update(c, buf, at + 4, buf.length) >>> 0;
}
