import * as assert from 'assert';
import * as crypto from 'crypto';
import { crc32c, crc32cWithZeroField } from '../../../src/formats/crc32c';

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
});
