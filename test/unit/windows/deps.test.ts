// Decoding of STORAGE_DEPENDENCY_INFO Version 2 answers, with buffers built the way VirtDisk fills them:
// header, 64-byte TYPE_2 entries, then the UTF-16 strings the entries point at (absolute addresses).
import * as assert from 'assert';
import { decodeStorageDependencyInfo, dependencyFlags } from '../../../src/worker/windows/deps';
import { DEPENDENT_DISK_FLAG as F } from '../../../src/worker/windows/constants';

interface E { flags: number; device: number; vendorMs: boolean; level: number; strings: (string | null)[] }

const BASE = 0x7ff6_1234_0000n;

function build(entries: E[], extra = 0): Buffer {
  let strOff = 8 + 64 * entries.length;
  const strings: [number, string][] = [];
  const buf = Buffer.alloc(strOff + 2048 + extra);
  buf.writeInt32LE(2, 0);
  buf.writeUInt32LE(entries.length, 4);
  entries.forEach((e, i) => {
    const o = 8 + 64 * i;
    buf.writeUInt32LE(e.flags, o);
    buf.writeUInt32LE(0, o + 4);
    buf.writeUInt32LE(e.device, o + 8);
    if (e.vendorMs) { // EC984AEC-A0F9-47E9-901F-71415A66345B, mixed-endian as in memory
      buf.writeUInt32LE(0xEC984AEC, o + 12); buf.writeUInt16LE(0xA0F9, o + 16); buf.writeUInt16LE(0x47E9, o + 18);
      Buffer.from('901f71415a66345b', 'hex').copy(buf, o + 20);
    }
    buf.writeUInt32LE(e.level, o + 28);
    e.strings.forEach((s, k) => {
      if (s === null) { buf.writeBigUInt64LE(0n, o + 32 + 8 * k); return; }
      buf.writeBigUInt64LE(BASE + BigInt(strOff), o + 32 + 8 * k);
      strings.push([strOff, s]);
      strOff += (s.length + 1) * 2;
    });
  });
  for (const [off, s] of strings) buf.write(`${s}\0`, off, 'utf16le');
  return buf;
}

describe('Windows: GetStorageDependencyInformation decoding', () => {
  it('decodes Wine\'s and a physical volume\'s empty answer', () => {
    const b = Buffer.alloc(1024);
    b.writeInt32LE(2, 0);
    assert.deepStrictEqual(decodeStorageDependencyInfo(b, BASE, 8), []);
  });

  it('decodes a differencing chain: strings through the in-buffer pointers, flags and storage types', () => {
    const buf = build([
      { flags: F.READ_ONLY | F.PERMANENT_LIFETIME, device: 3, vendorMs: true, level: 1,
        strings: ['\\\\?\\C:\\vm\\child.avhdx', '\\\\?\\Volume{11111111-2222-3333-4444-555555555555}\\', '\\\\?\\Volume{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}\\', 'vm\\child.avhdx'] },
      { flags: F.PARENT | F.FULLY_ALLOCATED, device: 3, vendorMs: true, level: 2,
        strings: ['\\\\?\\C:\\vm\\base.vhdx', null, '\\\\?\\Volume{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}\\', 'vm\\base.vhdx'] },
      { flags: F.NO_DRIVE_LETTER | F.REMOVABLE, device: 1, vendorMs: false, level: 1, strings: ['D:\\disc.iso', null, null, 'disc.iso'] },
    ]);
    const d = decodeStorageDependencyInfo(buf, BASE);
    assert.strictEqual(d.length, 3);
    assert.deepStrictEqual(d[0], {
      dependencyDevice: '\\\\?\\C:\\vm\\child.avhdx',
      hostVolume: '\\\\?\\Volume{11111111-2222-3333-4444-555555555555}\\',
      dependentVolume: '\\\\?\\Volume{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}\\',
      dependentVolumeRelativePath: 'vm\\child.avhdx',
      ancestorLevel: 1,
      storageType: { device: 'vhdx', vendor: 'microsoft' },
      flags: ['read-only', 'permanent-lifetime'],
    });
    assert.strictEqual(d[1].hostVolume, null);
    assert.deepStrictEqual(d[1].flags, ['parent', 'fully-allocated']);
    assert.strictEqual(d[1].ancestorLevel, 2);
    assert.deepStrictEqual(d[2].storageType, { device: 'iso', vendor: 'unknown' });
    assert.deepStrictEqual(d[2].flags, ['removable', 'no-drive-letter']);
  });

  it('refuses pointers outside the buffer (a wrong layout) and wrong versions instead of reading garbage', () => {
    const buf = build([{ flags: 0, device: 2, vendorMs: true, level: 1, strings: ['x', null, null, 'x'] }]);
    assert.throws(() => decodeStorageDependencyInfo(buf, BASE + 0x100000n), /points outside the buffer/);
    const v1 = Buffer.from(buf); v1.writeInt32LE(1, 0);
    assert.throws(() => decodeStorageDependencyInfo(v1, BASE), /Version 2/);
    const many = Buffer.from(buf); many.writeUInt32LE(1000, 4);
    assert.throws(() => decodeStorageDependencyInfo(many, BASE), /do not fit/);
  });

  it('maps every DEPENDENT_DISK_FLAG the protocol names', () => {
    assert.deepStrictEqual(dependencyFlags(0), []);
    assert.strictEqual(dependencyFlags(0x7df).length, 10); // all but SYSTEM_VOLUME_PARENT (0x20), which the protocol has no name for
    assert.deepStrictEqual(dependencyFlags(F.REMOTE | F.MULT_BACKING_FILES | F.SYSTEM_VOLUME | F.NO_HOST_DISK),
      ['no-host-disk', 'system-volume', 'remote', 'mult-backing-files']);
  });
});
