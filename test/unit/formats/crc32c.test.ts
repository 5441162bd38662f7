import * as assert from 'assert';
import * as crypto from 'crypto';
import { crc32c, crc32cWithZeroField, nonZeroEnd } from '../../../src/formats/crc32c';

/** Bit-at-a-time CRC-32C, the definition itself. */
function reference(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('CRC-32C', () => {
  it('gives the check value of the standard test vector', () => {
    assert.strictEqual(crc32c(Buffer.from('123456789')), 0xe3069283);
  });

  it('matches the bitwise definition for data followed by long zero runs (the region-table case)', () => {
    for (const [data, zeros] of [[0, 65536], [32, 65536 - 32], [4000, 9000], [1, 8191], [8193, 3], [70000, 0], [5, 20000]]) {
      const buf = Buffer.alloc(data + zeros);
      crypto.randomFillSync(buf, 0, data);
      if (data) buf[data - 1] |= 1;
      assert.strictEqual(crc32c(buf), reference(buf), `${data} data bytes + ${zeros} zeros`);
    }
  });

  it('matches it at unaligned offsets and with zeros inside the data', () => {
    const big = crypto.randomBytes(20000);
    big.fill(0, 3000, 15000);
    for (const [from, to] of [[1, 19999], [3, 15000], [4097, 14999], [0, 20000]]) {
      const view = big.subarray(from, to);
      assert.strictEqual(crc32c(view), reference(view), `${from}..${to}`);
    }
  });

  it('treats the checksum field as zero without copying', () => {
    const buf = Buffer.alloc(65536);
    crypto.randomFillSync(buf, 0, 200);
    const zeroed = Buffer.from(buf);
    zeroed.fill(0, 4, 8);
    assert.strictEqual(crc32cWithZeroField(buf, 4), reference(zeroed));
  });

  it('finds the end of the data before a zero tail exactly, for every length and offset tried', () => {
    const naive = (b: Uint8Array, from: number, to: number) => { let e = to; while (e > from && b[e - 1] === 0) e--; return e; };
    for (const total of [0, 1, 255, 256, 4096, 65535, 65536, 65537, 200000]) {
      for (const last of [-1, 0, 1, 127, 128, 129, 4095, 65535, 65536, 131072, total - 129, total - 1]) {
        const buf = Buffer.alloc(total);
        if (last >= 0 && last < total) { crypto.randomFillSync(buf, 0, last + 1); buf[last] = 0x5a; }
        for (const [from, to] of [[0, total], [Math.min(3, total), total], [0, Math.max(0, total - 5)]]) {
          assert.strictEqual(nonZeroEnd(buf, from, to), naive(buf, from, to), `${total} bytes, last data byte ${last}, ${from}..${to}`);
        }
      }
    }
  });
});
