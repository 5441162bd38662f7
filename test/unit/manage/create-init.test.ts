// Create with --init gpt / --fs: every file system as VHD and VHDX, dynamic and fixed, checked by the tools that
// own each piece: sgdisk and sfdisk (the GPT, on qemu-img's raw view), qemu-img check / vhdiinfo (the container),
// the file system's own fsck on the partition cut out of the raw view, blkid (the label), and vdisk's browse.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { createImage } from '../../../src/formats/manage/create';
import { convertImage } from '../../../src/formats/manage/convert';
import { buildGpt } from '../../../src/formats/manage/gpt-writer';
import { crc32 } from '../../../src/formats/crc32';
import { dataExtents } from '../../../src/formats/manage/initialise';
import { seekData } from '../../../src/worker/linux/libc';
import { checkInitSpec, FS_INFO, InitFileSystem, initUnavailable, partitionRange } from '../../../src/common/init-spec';
import { initFileSystems } from '../../../src/worker/policy';
import { createArgs } from '../../../src/cli/manage-args';
import { cli } from '../../support/worker';
import { run, tempDir, tool, vhdiInfo } from '../formats/helpers';

const MiB = 2 ** 20;
const FSCK: Record<InitFileSystem, [string, string[], string]> = {
  ext4: ['e2fsck', ['-fn'], 'e2fsprogs'], ntfs: ['ntfsfix', ['-n'], 'ntfs-3g'], fat32: ['fsck.vfat', ['-n'], 'dosfstools'], exfat: ['fsck.exfat', ['-n'], 'exfatprogs'],
};
const BLKID_TYPE: Record<InitFileSystem, string> = { ext4: 'ext4', ntfs: 'ntfs', fat32: 'vfat', exfat: 'exfat' };

function need(name: string, pkg: string): void {
  if (!fs.existsSync(`/usr/sbin/${name}`) && !fs.existsSync(`/usr/bin/${name}`) && !fs.existsSync(`/sbin/${name}`)) assert.fail(`${name} is not installed (apt-get install ${pkg}); this test needs it`);
}

describe('manage: create and initialise (GPT + one file system)', function () {
  this.timeout(120000);
  const dir = tempDir(this, 'vdisk-init-');
  const at = (n: string) => path.join(dir(), n);

  it('writes a GPT that is its own: CRCs, protective MBR, both headers, backup entries at the end', function () {
    const size = 64 * MiB;
    const part = partitionRange(size, 512);
    assert.deepStrictEqual(part, { offset: MiB, size: 62 * MiB }, 'the partition is 1 MiB aligned at both ends, inside the usable range');
    const pieces = buildGpt({ diskSize: size, sectorSize: 512, diskGuid: '11111111-2222-3333-4444-555555555555',
      partition: { ...part, typeGuid: FS_INFO.ext4.typeGuid, guid: '66666666-7777-8888-9999-000000000000', name: 'data' } });
    const disk = Buffer.alloc(size);
    for (const [o, b] of pieces) b.copy(disk, o);
    assert.strictEqual(disk.readUInt16LE(510), 0xaa55);
    assert.strictEqual(disk[446 + 4], 0xee);
    const primary = disk.subarray(512, 1024), backup = disk.subarray(size - 512);
    for (const h of [primary, backup]) {
      assert.strictEqual(h.toString('latin1', 0, 8), 'EFI PART');
      const c = Buffer.from(h.subarray(0, 92)); c.writeUInt32LE(0, 16);
      assert.strictEqual(h.readUInt32LE(16), crc32(c));
      const entries = disk.subarray(Number(h.readBigUInt64LE(72)) * 512, Number(h.readBigUInt64LE(72)) * 512 + 16384);
      assert.strictEqual(h.readUInt32LE(88), crc32(entries));
      assert.strictEqual(entries.readBigUInt64LE(32), 2048n);
    }
    assert.strictEqual(primary.readBigUInt64LE(32), BigInt(size / 512 - 1), 'the primary names the backup header');
    assert.strictEqual(crc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value');
  });

  it('finds a sparse file\'s data by SEEK_DATA/SEEK_HOLE and by scanning, the same runs', function () {
    const f = at('sparse.bin');
    fs.writeFileSync(f, '');
    fs.truncateSync(f, 64 * MiB);
    const fd = fs.openSync(f, 'r+');
    try {
      fs.writeSync(fd, Buffer.alloc(8192, 1), 0, 8192, 5 * MiB);
      fs.writeSync(fd, Buffer.alloc(4096, 2), 0, 4096, 40 * MiB);
      const bySeek = dataExtents(fd, 64 * MiB, seekData);
      const byScan = dataExtents(fd, 64 * MiB);
      const covers = (ex: [number, number][], o: number, l: number) => ex.some(([s, n]) => s <= o && s + n >= o + l);
      for (const ex of [bySeek, byScan]) {
        assert.ok(covers(ex, 5 * MiB, 8192) && covers(ex, 40 * MiB, 4096), JSON.stringify(ex));
        assert.ok(ex.reduce((n, [, l]) => n + l, 0) <= 2 * MiB, 'holes are not data');
      }
    } finally { fs.closeSync(fd); }
  });

  it('checks labels, sizes and flags before anything is written; the report offers only what works', function () {
    assert.throws(() => checkInitSpec({ fileSystem: 'fat32', label: 'TOO LONG LABEL' }, 64 * MiB, 512), /at most 11/);
    assert.throws(() => checkInitSpec({ fileSystem: 'fat32', label: 'A/B' }, 64 * MiB, 512), /plain ASCII/);
    assert.throws(() => checkInitSpec({ fileSystem: 'fat32' }, 16 * MiB, 512), /at least 34 MiB/);
    assert.throws(() => checkInitSpec({ label: 'x' }, 64 * MiB, 512), /give --fs/);
    assert.throws(() => checkInitSpec({ fileSystem: 'exfat' }, 64 * MiB, 4096), /exFAT on a 4096-byte-sector disk/);
    assert.throws(() => checkInitSpec({ fileSystem: 'fat32' }, 128 * MiB, 4096), /at least 258 MiB/);
    assert.deepStrictEqual(checkInitSpec({ fileSystem: 'ext4', label: 'x' }, 64 * MiB, 512), { init: 'gpt', fileSystem: 'ext4', label: 'x' });
    const flags = (m: Record<string, string>) => (f: string) => m[f];
    const a = createArgs('/x.vhdx', flags({ '--size': '1G', '--format': 'vhdx', '--type': 'dynamic', '--fs': 'exfat', '--label': 'Data' }));
    assert.strictEqual(a.fileSystem, 'exfat'); assert.strictEqual(a.label, 'Data');
    assert.throws(() => createArgs('/x', flags({ '--size': '1G', '--format': 'vhd', '--type': 'fixed', '--fs': 'btrfs' })), /--fs is ext4 or ntfs or fat32 or exfat/);
    assert.throws(() => createArgs('/x', flags({ '--size': '1G', '--format': 'vhd', '--type': 'fixed', '--init': 'mbr' })), /--init is gpt/);
    assert.match(initUnavailable('win32', 'ntfs', false)!, /mkfs does not exist on Windows/);
    assert.match(initUnavailable('linux', 'exfat', false)!, /install exfatprogs/);
    const linux = initFileSystems({ platform: 'linux', tools: { 'mkfs.ext4': true, mkntfs: false, 'mkfs.vfat': true, 'mkfs.exfat': false } });
    assert.deepStrictEqual(linux.filter((f) => f.available).map((f) => f.fileSystem), ['ext4', 'fat32']);
    assert.match(linux.find((f) => f.fileSystem === 'ntfs')!.why!, /install ntfs-3g/);
    assert.ok(initFileSystems({ platform: 'win32', tools: {} }).every((f) => !f.available && /Windows/.test(f.why!)));
  });

  const cases: [InitFileSystem, 'vhd' | 'vhdx', 'dynamic' | 'fixed'][] = [];
  for (const f of ['ext4', 'ntfs', 'fat32', 'exfat'] as const) for (const fmt of ['vhd', 'vhdx'] as const) for (const t of ['dynamic', 'fixed'] as const) cases.push([f, fmt, t]);
  for (const [fsType, format, type] of cases) {
    it(`${format} ${type} with ${fsType}: sgdisk, sfdisk, ${format === 'vhdx' ? 'qemu-img check' : 'vhdiinfo'}, ${FSCK[fsType][0]} and blkid clean`, async function () {
      const [fsck, fsckArgs, pkg] = FSCK[fsType];
      need(FS_INFO[fsType].tool, FS_INFO[fsType].provider);
      need(fsck, pkg);
      need('sgdisk', 'gdisk');
      const f = at(`${fsType}-${type}.${format}`);
      const label = fsType === 'fat32' ? 'VDISK' : 'vdisk-data';
      const size = 96 * MiB;
      const r = await createImage({ path: f, format, type, size, blockSize: format === 'vhdx' ? MiB : undefined },
        { init: { fileSystem: fsType, label }, seek: seekData });
      assert.deepStrictEqual(r.init?.partition && { ...r.init.partition, writtenBytes: 0 }, { offset: MiB, size: 94 * MiB, fileSystem: fsType, label, writtenBytes: 0 });
      assert.deepStrictEqual(fs.readdirSync(dir()).filter((n) => n.includes('vdisk-')), [], 'no temporary file is left');
      const driver = format === 'vhd' ? 'vpc' : 'vhdx';
      if (format === 'vhdx') run('qemu-img', ['check', '-f', driver, f]);
      else assert.strictEqual(vhdiInfo(f).mediaSize, size);
      const raw = `${f}.raw`;
      run('qemu-img', ['convert', '-f', driver, '-O', 'raw', f, raw]);
      assert.match(run('sgdisk', ['-v', raw]), /No problems found/);
      assert.match(run('sfdisk', ['--verify', raw]), /No errors detected/);
      const table = JSON.parse(run('sfdisk', ['--json', raw])) as { partitiontable: { label: string; partitions: { start: number; size: number; type: string; name?: string }[] } };
      assert.strictEqual(table.partitiontable.label, 'gpt');
      assert.deepStrictEqual(table.partitiontable.partitions.map((p) => [p.start, p.size, p.type.toLowerCase(), p.name]),
        [[2048, 94 * 2048, FS_INFO[fsType].typeGuid, label]]);
      const part = `${f}.part`;
      run('dd', [`if=${raw}`, `of=${part}`, 'bs=1M', 'skip=1', 'count=94', 'status=none']);
      run(fsck, [...fsckArgs, part]);
      const id = run('blkid', ['-p', '-o', 'export', part]);
      assert.match(id, new RegExp(`^TYPE=${BLKID_TYPE[fsType]}$`, 'm'));
      assert.match(id, new RegExp(`^LABEL=${label}$`, 'm'));
      fs.rmSync(raw); fs.rmSync(part);
    });
  }

  for (const fsType of ['ext4', 'ntfs', 'fat32'] as const) {
    it(`a 4096-byte-sector VHDX with ${fsType}: fdisk -b 4096 sees the GPT partition, ${FSCK[fsType][0]} and blkid are clean`, async function () {
      const f = at(`4k-${fsType}.vhdx`), raw = `${f}.raw`, part = `${f}.part`;
      await createImage({ path: f, format: 'vhdx', type: 'dynamic', size: 300 * MiB, blockSize: MiB, logicalSectorSize: 4096 }, { init: { fileSystem: fsType, label: 'K4' }, seek: seekData });
      await convertImage({ source: f, dest: raw, format: 'raw' }); // qemu cannot read 4096-byte-sector VHDX
      assert.match(run('fdisk', ['-b', '4096', '-l', raw]), /raw1\s+256\s+76543\s+76288\s+298M/);
      run('dd', [`if=${raw}`, `of=${part}`, 'bs=1M', 'skip=1', 'count=298', 'status=none']);
      run(FSCK[fsType][0], [...FSCK[fsType][1], part]);
      assert.match(run('blkid', ['-p', '-o', 'export', part]), /^LABEL=K4$/m);
      for (const x of [f, raw, part]) fs.rmSync(x);
    });
  }

  it('vdisk browse sees each new, empty volume', function () {
    for (const fsType of ['ext4', 'ntfs', 'fat32', 'exfat'] as const) {
      const r = cli(['ls', at(`${fsType}-dynamic.vhdx`), '--json']);
      assert.strictEqual(r.code, 0, `${fsType}: ${r.stderr}`);
      const names = (r.json as { name: string }[]).map((e) => e.name).filter((n) => !n.startsWith('$') && n !== 'System Volume Information');
      assert.deepStrictEqual(names, fsType === 'ext4' ? ['lost+found'] : [], fsType);
    }
  });

  it('--init gpt alone writes an empty GPT; the CLI reports the partition', function () {
    tool('sgdisk');
    const f = at('empty-gpt.vhdx');
    const r = cli(['create', f, '--size', '64M', '--format', 'vhdx', '--type', 'dynamic', '--init', 'gpt', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual((r.json as { init: unknown }).init, { table: 'gpt', partition: null });
    run('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', f, `${f}.raw`]);
    assert.match(run('sgdisk', ['-v', `${f}.raw`]), /No problems found/);
    assert.strictEqual(JSON.parse(run('sfdisk', ['--json', `${f}.raw`])).partitiontable.partitions, undefined);
    const t = cli(['create', at('t.vhd'), '--size', '64M', '--format', 'vhd', '--type', 'dynamic', '--fs', 'ext4', '--label', 'root']);
    assert.strictEqual(t.code, 0, t.stderr);
    assert.match(t.stdout, /GPT with one ext4 partition "root" at 1 MiB, 62 MiB/);
  });

  it('a 64 GiB dynamic VHDX with ext4 stores only what mkfs wrote', async function () {
    const f = at('big.vhdx');
    const r = await createImage({ path: f, format: 'vhdx', type: 'dynamic', size: 64 * 2 ** 30 }, { init: { fileSystem: 'ext4', label: 'big' }, seek: seekData });
    assert.ok(r.init!.partition!.writtenBytes < 64 * MiB, `mkfs wrote ${r.init!.partition!.writtenBytes} bytes`);
    const st = fs.statSync(f);
    assert.ok(st.blocks * 512 < 64 * MiB, `${st.blocks * 512} bytes on the host: the zero parts of allocated blocks are holes`);
    run('qemu-img', ['check', '-f', 'vhdx', f]);
    fs.rmSync(f);
  });

  it('a cancelled or failed initialise leaves neither the image nor the temporary file', async function () {
    const f = at('cancel.vhdx');
    let calls = 0;
    await assert.rejects(createImage({ path: f, format: 'vhdx', type: 'dynamic', size: 64 * MiB }, { init: { fileSystem: 'ext4' }, seek: seekData,
      progress: { cancelled: () => ++calls > 1 } }), /cancelled/);
    assert.deepStrictEqual(fs.readdirSync(dir()).filter((n) => n.startsWith('.') || n.startsWith('cancel')), []);
    // the destination appears while mkfs runs: the writer refuses after the file system was made
    fs.writeFileSync(f, 'theirs');
    await assert.rejects(createImage({ path: f, format: 'vhdx', type: 'dynamic', size: 64 * MiB }, { init: { fileSystem: 'ntfs' }, seek: seekData }), /already exists/);
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'theirs');
    assert.deepStrictEqual(fs.readdirSync(dir()).filter((n) => n.startsWith('.')), [], 'the mkfs file is gone');
  });

  it('mkfs writes a file that has no name: nothing to leave behind if the worker is killed while it runs', async function () {
    // a stand-in mkfs.ext4 first on PATH: it records the image's folder and what it was given, then fails
    const bin = path.join(dir(), 'bin');
    fs.mkdirSync(bin, { recursive: true });
    const seen = path.join(dir(), 'seen.txt');
    fs.writeFileSync(path.join(bin, 'mkfs.ext4'), `#!/bin/sh\necho "[$(ls -A "${path.join(dir(), 'img')}")]" > "${seen}"\nstat -L -c '%s %F' /dev/fd/3 >> "${seen}"\necho "stand-in mkfs refuses" >&2\nexit 3\n`, { mode: 0o755 });
    fs.mkdirSync(path.join(dir(), 'img'), { recursive: true });
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      await assert.rejects(createImage({ path: path.join(dir(), 'img', 'd.vhdx'), format: 'vhdx', type: 'dynamic', size: 64 * MiB },
        { init: { fileSystem: 'ext4' }, seek: seekData }), /mkfs\.ext4 failed: stand-in mkfs refuses/);
    } finally { process.env.PATH = saved; }
    const [listing, fd3] = fs.readFileSync(seen, 'utf8').split('\n');
    assert.strictEqual(listing, '[]', 'while mkfs ran, the image folder held no file at all');
    assert.strictEqual(fd3, `${62 * MiB} regular file`, 'mkfs got the partition-sized file as descriptor 3');
    assert.deepStrictEqual(fs.readdirSync(path.join(dir(), 'img')), []);
  });
});
