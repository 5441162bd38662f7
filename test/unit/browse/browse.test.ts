// The browse layer's pure parts (7-Zip's -slt listing, link resolution, volumes) and 7-Zip's limits in its thread.
import * as assert from 'assert';
import { parseSlt, resolve } from '../../../src/worker/browse/slt';
import { findVolumes } from '../../../src/formats/volumes';
import { run7z, SevenZipFailure } from '../../../src/worker/browse/sevenzip';
import type { BlockReader } from '../../../src/formats/block';

const block = (fields: Record<string, string>) => Object.entries(fields).map(([k, v]) => `${k} = ${v}`).concat('');
const SLT = [
  '7-Zip (z) 24.09', '', 'Listing archive: /in/volume', '', '--', 'Path = /in/volume', 'Type = NTFS', 'Label = Windows', '', '----------',
  ...block({ Path: '[SYSTEM]/$MFT', Folder: '-', Size: '66560', 'Alternate Stream': '-' }),
  ...block({ Path: '$Extend', Folder: '+', Size: '' }),
  ...block({ Path: 'Users/a/doc.txt', Folder: '-', Size: '12', Modified: '2024-05-06 07:08:09.5000000', 'Alternate Stream': '-' }),
  ...block({ Path: 'Users/a/doc.txt:Zone.Identifier', Folder: '-', Size: '26', 'Alternate Stream': '+' }),
  ...block({ Path: 'Users/a/link', Folder: '+', Size: '8', Mode: 'lrwxrwxrwx', 'Symbolic Link': '../a' }),
  ...block({ Path: 'loop1', Folder: '-', Size: '5', Mode: 'lrwxrwxrwx', 'Symbolic Link': 'loop2' }),
  ...block({ Path: 'loop2', Folder: '-', Size: '5', Mode: 'lrwxrwxrwx', 'Symbolic Link': '/loop1' }),
  ...block({ Path: 'up', Folder: '-', Size: '5', Mode: 'lrwxrwxrwx', 'Symbolic Link': '../../../Users' }),
];

describe('browse: 7-Zip listings', () => {
  it('builds the tree, hiding NTFS metafiles and alternate streams; a link to a folder stays a link', () => {
    const l = parseSlt(SLT);
    assert.deepStrictEqual([l.type, l.label], ['NTFS', 'Windows']);
    assert.deepStrictEqual([...l.root.children!.keys()].sort(), ['Users', 'loop1', 'loop2', 'up']);
    const a = l.root.children!.get('Users')!.children!.get('a')!;
    assert.deepStrictEqual([...a.children!.keys()], ['doc.txt', 'link']);
    assert.deepStrictEqual({ ...a.children!.get('doc.txt')! }, { name: 'doc.txt', type: 'file', size: 12, mtime: Date.UTC(2024, 4, 6, 7, 8, 9, 500) });
    assert.strictEqual(a.children!.get('link')!.type, 'symlink');
  });

  it('follows links only inside the volume: loops end, `..` stops at the volume root', () => {
    const l = parseSlt(SLT);
    const names = (r: ReturnType<typeof resolve>) => r?.map((n) => n.name);
    assert.deepStrictEqual(names(resolve(l.root, ['Users', 'a', 'link'], true)), ['', 'Users', 'a']);
    assert.deepStrictEqual(names(resolve(l.root, ['Users', 'a', 'link'], false)), ['', 'Users', 'a', 'link']);
    assert.strictEqual(resolve(l.root, ['loop1'], true), null);
    assert.deepStrictEqual(names(resolve(l.root, ['up'], true)), ['', 'Users']);
    assert.strictEqual(resolve(l.root, ['Users', 'nope'], true), null);
  });

  it('says so when 7-Zip printed no listing', () => {
    assert.throws(() => parseSlt(['ERROR: /in/volume', 'Cannot open the file as archive']), /no listing/);
  });
});

function memoryDisk(buf: Buffer, read?: BlockReader['read']): BlockReader {
  return {
    size: buf.length, sectorSize: 512,
    read: read ?? (async (b, off) => { const n = Math.max(0, Math.min(b.length, buf.length - off)); buf.copy(b, 0, off, off + n); return n; }),
    close: async () => undefined,
  };
}

describe('browse: volumes of a disk', () => {
  const entry = (d: Buffer, at: number, type: number, lba: number, count: number) => {
    d[at + 4] = type; d.writeUInt32LE(lba, at + 8); d.writeUInt32LE(count, at + 12);
  };
  it('lists primary and logical partitions of an MBR, not the extended container', async () => {
    const d = Buffer.alloc(8 << 20);
    entry(d, 446, 0x07, 2048, 4096);
    entry(d, 462, 0x05, 8192, 8192);            // extended: sectors 8192..16383
    d[510] = 0x55; d[511] = 0xaa;
    const ebr1 = 8192 * 512, ebr2 = (8192 + 4096) * 512;
    entry(d, ebr1 + 446, 0x83, 64, 2048); entry(d, ebr1 + 462, 0x05, 4096, 4096); d[ebr1 + 510] = 0x55; d[ebr1 + 511] = 0xaa;
    entry(d, ebr2 + 446, 0x0c, 64, 1024); d[ebr2 + 510] = 0x55; d[ebr2 + 511] = 0xaa;
    const v = await findVolumes(memoryDisk(d));
    assert.deepStrictEqual(v.map((x) => [x.index, x.offset / 512, x.size / 512, x.partitionType]),
      [[1, 2048, 4096, '0x07'], [5, 8256, 2048, '0x83'], [6, 12352, 1024, '0x0c']]);
  });
  it('takes a bare exFAT or NTFS volume whole (its boot sector ends in 55 AA like an MBR)', async () => {
    for (const oem of ['EXFAT   ', 'NTFS    ']) {
      const d = Buffer.alloc(1 << 20); d.write(oem, 3, 'latin1'); d[510] = 0x55; d[511] = 0xaa;
      entry(d, 446, 0x07, 1, 100);   // boot code that looks like a partition entry
      assert.deepStrictEqual(await findVolumes(memoryDisk(d)), [{ index: 0, offset: 0, size: 1 << 20 }], oem);
    }
  });
  it('adds the HFS+ partitions of a hybrid ISO\'s Apple Partition Map to the ISO 9660 volume', async () => {
    const d = Buffer.alloc(4 << 20);
    d.write('CD001', 0x8001, 'latin1');
    d.write('ER', 0, 'latin1'); d.writeUInt16BE(512, 2);
    const pm = (i: number, start: number, count: number, name: string, type: string) => {
      const at = i * 512; d.write('PM', at, 'latin1'); d.writeUInt32BE(3, at + 4);
      d.writeUInt32BE(start, at + 8); d.writeUInt32BE(count, at + 12); d.write(name, at + 16, 'latin1'); d.write(type, at + 48, 'latin1');
    };
    pm(1, 1, 3, 'Apple', 'Apple_partition_map');
    pm(2, 128, 1024, 'HFSPLUS_Hybrid', 'Apple_HFS');
    pm(3, 8000, 1 << 20, 'Past the end', 'Apple_HFS');
    assert.deepStrictEqual(await findVolumes(memoryDisk(d)), [{ index: 0, offset: 0, size: 4 << 20 },
      { index: 2, offset: 65536, size: 1024 * 512, partitionType: 'Apple_HFS', partitionName: 'HFSPLUS_Hybrid' }]);
  });
  it('takes the whole disk when it has no table, or is an ISO 9660 image', async () => {
    assert.deepStrictEqual(await findVolumes(memoryDisk(Buffer.alloc(1 << 20))), [{ index: 0, offset: 0, size: 1 << 20 }]);
    const iso = Buffer.alloc(1 << 20); iso.write('CD001', 0x8001, 'latin1'); iso[510] = 0x55; iso[511] = 0xaa; iso[446 + 4] = 0x17;
    assert.deepStrictEqual((await findVolumes(memoryDisk(iso))).map((x) => x.index), [0]);
  });
});

describe('browse: 7-Zip under limits (worker thread)', function () {
  this.timeout(60_000);
  const list = (disk: BlockReader, limits = {}) =>
    run7z({ disk, volume: { offset: 0, size: disk.size }, args: ['l', '-slt', '-bd', '/in/volume'], op: { kind: 'list' }, limits }).done;

  it('ends a 7-Zip whose reads never come back (stalled), without harm to this process', async () => {
    const stuck = memoryDisk(Buffer.alloc(4 << 20), () => new Promise<number>(() => undefined));
    await assert.rejects(list(stuck, { stallMs: 400 }), (e: SevenZipFailure) => e.reason === 'stalled' && /no progress for 0.4 s/.test(e.message));
  });

  it('names the block layer when a read fails', async () => {
    const broken = memoryDisk(Buffer.alloc(4 << 20), async () => { throw new Error('VHDX block 7: bad checksum'); });
    await assert.rejects(list(broken), (e: SevenZipFailure) => e.reason === 'block-read' && /^block layer: reading \d+ bytes at offset 0: VHDX block 7: bad checksum$/.test(e.message));
  });

  it('reports "not an archive" for a disk of zeros (exit code, no listing)', async () => {
    const r = await list(memoryDisk(Buffer.alloc(4 << 20)));
    assert.notStrictEqual(r.rc, 0);
    assert.strictEqual(r.listing, undefined);
    assert.match(r.errors.join(' '), /Cannot open the file as archive/i);
  });

  it('stops at cancellation', async () => {
    let cancel!: () => void;
    const cancelled = new Promise<void>((resolve) => { cancel = resolve; });
    const stuck = memoryDisk(Buffer.alloc(4 << 20), () => { cancel(); return new Promise<number>(() => undefined); });
    await assert.rejects(run7z({ disk: stuck, volume: { offset: 0, size: stuck.size }, args: ['l', '/in/volume'], op: { kind: 'list' }, cancelled }).done,
      (e: SevenZipFailure) => e.reason === 'cancelled');
  });
});
