// Proof of the block layer through chains: differencing VHD and VHDX (written by a test-only writer, compared with
// libvhdi's vhdimount view and with a model of the writes), qcow2 backing chains and data files and VMDK children
// (compared with qemu-img convert), and the refusals: missing or replaced parents, cycles, depth, forbidden files.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openDisk } from '../../../src/formats/open-disk';
import { inspectImage } from '../../../src/formats/inspect';
import { createDifferencingDisk } from '../../../src/formats/create-diff';
import { META_LOGICAL_SECTOR } from '../../../src/formats/vhdx/inspect';
import type { LayerRequest } from '../../../src/formats/layer-files';
import { defaultLayerOpener as openLayerFile } from '../../../src/formats/layer-files';
import { run, tempDir, tool, which } from '../formats/helpers';
import { diskSha, fileSha, makeSource, qemuRaw } from './helpers';
import { Overlay, applyOverlays, writeVhdChildBlock, writeVhdxChildBlock } from '../../support/diff-writer';

const MiB = 1 << 20;
const SIZE = 6 * MiB;

/** The whole disk through openDisk, in one buffer (the images here are a few MiB). */
async function readAll(file: string): Promise<Buffer> {
  const d = await openDisk(file);
  try {
    const b = Buffer.alloc(d.size);
    assert.strictEqual(await d.read(b, 0), d.size);
    return b;
  } finally { await d.close(); }
}

/** vhdimount exposes every layer, vhdi1 the bottom one: the disk as attached is the last, the image's own view. */
function vhdimountTop(image: string): Buffer {
  tool('vhdimount');
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-vhdimount-'));
  run('vhdimount', [image, mnt]);
  try {
    const names = fs.readdirSync(mnt).filter((n) => /^vhdi\d+$/.test(n)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
    return fs.readFileSync(path.join(mnt, names[names.length - 1]));
  } finally {
    try { run('fusermount', ['-u', mnt]); } catch { cp.spawnSync(which('fusermount') ?? 'fusermount', ['-uz', mnt]); }
    fs.rmSync(mnt, { recursive: true, force: true });
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.strictEqual(e.name, 'FormatError', e.message);
    assert.strictEqual(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

describe('block layer: differencing VHD and VHDX chains', function () {
  this.timeout(60000);
  const dir = tempDir(this, 'vdisk-block-chain-');
  let src = '', base = Buffer.alloc(0);
  before(() => {
    src = makeSource(path.join(dir(), 'source.raw'), SIZE, 5);
    base = fs.readFileSync(src);
  });

  it('VHD child and grandchild: sector bitmaps per block, unallocated blocks from the parent', async function () {
    const p = path.join(dir(), 'p.vhd'), c = path.join(dir(), 'c.vhd'), g = path.join(dir(), 'g.vhd');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', src, p]);
    const parentRaw = fs.readFileSync(qemuRaw(p, `${p}.raw`, 'vpc'));
    await createDifferencingDisk(p, c);
    // byte-aligned runs: libvhdi (vhdimount) reads a bitmap byte whose first bits are set as if all 8 were
    const oc: Overlay[] = [writeVhdChildBlock(c, 1, [[0, 8], [96, 1000], [4088, 8]], 21), writeVhdChildBlock(c, 2, [[0, 4096]], 22)];
    const wantC = applyOverlays(parentRaw, ...oc);
    assert.ok((await readAll(c)).equals(wantC), 'the child matches the model of its writes');
    assert.ok(vhdimountTop(c).equals(wantC), 'vhdimount agrees');
    await createDifferencingDisk(c, g);
    // sub-byte runs: the VHD specification's bit order (bit 7 of byte 0 is the first sector); the model is the oracle
    const og = [writeVhdChildBlock(g, 1, [[3, 2], [97, 1], [4095, 1]], 23), writeVhdChildBlock(g, 0, [[1, 6]], 24)];
    const wantG = applyOverlays(wantC, ...og);
    assert.ok((await readAll(g)).equals(wantG), 'the grandchild reads its sectors, its parent\'s, then the base\'s');
    assert.strictEqual((await diskSha(g, 4097)).sha, fileSha(writeTemp(wantG)).sha);
  });

  const writeTemp = (b: Buffer) => { const f = path.join(dir(), `model-${b.length}-${Math.random()}`); fs.writeFileSync(f, b); return f; };

  it('VHDX child: FULLY_PRESENT and PARTIALLY_PRESENT blocks, equal to vhdimount; grandchild equal to the model', async function () {
    const p = path.join(dir(), 'p.vhdx'), c = path.join(dir(), 'c.vhdx'), g = path.join(dir(), 'g.vhdx');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', '-o', 'block_size=1M', src, p]);
    await createDifferencingDisk(p, c);
    const oc = [await writeVhdxChildBlock(c, 2, 'partial', [[0, 3], [100, 1000], [2047, 1]], 31),
      await writeVhdxChildBlock(c, 4, 'full', [], 32), await writeVhdxChildBlock(c, 5, 'partial', [[5, 1]], 33)];
    const wantC = applyOverlays(base, ...oc);
    assert.ok((await readAll(c)).equals(wantC), 'the model');
    assert.ok(vhdimountTop(c).equals(wantC), 'vhdimount');
    await createDifferencingDisk(c, g);
    // libvhdi 20210425 misreads some sectors of three-level chains, so the model alone is the oracle here
    const og = [await writeVhdxChildBlock(g, 2, 'partial', [[1, 1], [200, 2]], 34), await writeVhdxChildBlock(g, 0, 'full', [], 35)];
    assert.ok((await readAll(g)).equals(applyOverlays(wantC, ...og)));
  });

  it('VHDX with 4096-byte logical sectors: the parent equals qemu, the child vhdimount and the model', async function () {
    const p = path.join(dir(), 'p4k.vhdx'), c = path.join(dir(), 'c4k.vhdx');
    // qemu refuses 4096-byte logical sectors ("Operation not supported"): it makes the image with 512, its raw
    // conversion is the oracle, then the sector size is patched (a payload block is the same bytes either way)
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', '-o', 'block_size=1M', src, p]);
    const raw = qemuRaw(p, `${p}.raw`, 'vhdx');
    const info = await inspectImage(p);
    const meta = (info.details!.regions as { guid: string; offset: number }[]).find((r) => r.guid === '8b7ca206-4790-4b9a-b8fe-575f050f886e')!;
    const item = (info.details!.metadataItems as { guid: string; offset: number }[]).find((i) => i.guid === META_LOGICAL_SECTOR)!;
    const fd = fs.openSync(p, 'r+');
    try { fs.writeSync(fd, Buffer.from([0, 16, 0, 0]), 0, 4, meta.offset + item.offset); } finally { fs.closeSync(fd); }
    assert.strictEqual((await inspectImage(p)).logicalSectorSize, 4096);
    const parent = await openDisk(p);
    assert.strictEqual(parent.sectorSize, 4096);
    await parent.close();
    assert.strictEqual((await diskSha(p)).sha, fileSha(raw).sha);
    await createDifferencingDisk(p, c);
    const oc = [await writeVhdxChildBlock(c, 1, 'partial', [[0, 1], [2, 1], [8, 8], [255, 1]], 41)];
    const want = applyOverlays(fs.readFileSync(raw), ...oc);
    const got = await openDisk(c);
    assert.strictEqual(got.sectorSize, 4096);
    await got.close();
    assert.ok((await readAll(c)).equals(want), 'the model');
    assert.ok(vhdimountTop(c).equals(want), 'vhdimount');
  });

  it('a VHDX child of a VHD parent reads through to the VHD', async function () {
    const p = path.join(dir(), 'pv.vhd'), c = path.join(dir(), 'cv.vhdx');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'force_size=on', src, p]);
    await createDifferencingDisk(p, c);
    const o = await writeVhdxChildBlock(c, 3, 'partial', [[16, 16]], 51);
    assert.ok((await readAll(c)).equals(applyOverlays(base, o)));
  });

  it('a child whose parent is missing or replaced is refused with the chain problem, never read alone', async function () {
    const p = path.join(dir(), 'gone.vhd'), c = path.join(dir(), 'orphan.vhd');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', src, p]);
    const parentRaw = fs.readFileSync(qemuRaw(p, `${p}.raw`, 'vpc'));
    await createDifferencingDisk(p, c);
    fs.renameSync(p, `${p}.moved`);
    await rejectsWith(openDisk(c), 'chain-broken', /parent of this differencing disk cannot be found/);
    // another disk under the parent's name: another identity
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', src, p]);
    await rejectsWith(openDisk(c), 'chain-broken', /does not have the identity the child expects/);
    fs.rmSync(p);
    fs.renameSync(`${p}.moved`, p);
    assert.ok((await readAll(c)).equals(parentRaw), 'the real parent back in place');
  });

  it('searchFolders finds a moved parent (identity still checked)', async function () {
    const sub = path.join(dir(), 'elsewhere');
    fs.mkdirSync(sub);
    const p = path.join(dir(), 'mv.vhdx'), c = path.join(dir(), 'mvc.vhdx');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', src, p]);
    await createDifferencingDisk(p, c);
    fs.renameSync(p, path.join(sub, 'mv.vhdx'));
    await rejectsWith(openDisk(c), 'chain-broken', /cannot be found/);
    const d = await openDisk(c, { searchFolders: [sub] });
    await d.close();
  });
});

describe('block layer: qcow2 and VMDK backing chains, data files and the layer rule', function () {
  this.timeout(60000);
  const dir = tempDir(this, 'vdisk-block-backing-');
  let src = '';
  const f = (n: string) => path.join(dir(), n);
  const sameAsQemu = async (file: string, fmt: string) => {
    assert.strictEqual((await diskSha(file, 65536 + 512)).sha, fileSha(qemuRaw(file, `${file}.raw`, fmt)).sha);
  };
  before(() => { src = makeSource(path.join(dir(), 'source.raw'), SIZE, 7); });

  it('qcow2 over qcow2 over raw, a larger child than its backing, each written by qemu-io', async function () {
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', src, f('base.img')]);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.img', '-F', 'raw', f('mid.qcow2')], { cwd: dir() });
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x61 512k 70k', '-c', 'write -z 0 8k', f('mid.qcow2')]);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', '-b', 'mid.qcow2', '-F', 'qcow2', f('top.qcow2'), String(SIZE + 3 * MiB)], { cwd: dir() });
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x62 520k 6k', '-c', 'write -P 0x63 7M 5k', '-c', 'write -z 4M 64k', f('top.qcow2')]);
    await sameAsQemu(f('mid.qcow2'), 'qcow2');
    await sameAsQemu(f('top.qcow2'), 'qcow2');
  });

  it('qcow2 extended L2 child over a backing file: unallocated subclusters read the backing', async function () {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', '-b', 'source.raw', '-F', 'raw', f('xl2.qcow2')], { cwd: dir() });
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x71 66k 2k', '-c', 'write -z 130k 4k', f('xl2.qcow2')]);
    await sameAsQemu(f('xl2.qcow2'), 'qcow2');
  });

  it('qcow2 over a dynamic VHD backing file', async function () {
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', src, f('b.vhd')]);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'b.vhd', '-F', 'vpc', f('over-vhd.qcow2')], { cwd: dir() });
    run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x64 100k 1k', f('over-vhd.qcow2')]);
    await sameAsQemu(f('over-vhd.qcow2'), 'qcow2');
  });

  for (const rawFlag of ['on', 'off']) {
    it(`qcow2 with an external data file (data_file_raw=${rawFlag})`, async function () {
      const img = f(`df-${rawFlag}.qcow2`);
      run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=df-${rawFlag}.data,data_file_raw=${rawFlag}`, img, String(SIZE)], { cwd: dir() });
      run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x65 0 64k', '-c', 'write -P 0x66 3M 100k', '-c', 'write -z 3M 4k', img], { cwd: dir() });
      await sameAsQemu(img, 'qcow2');
    });
  }

  it('VMDK child over a VMDK parent (parentCID), and a parent with another CID is refused', async function () {
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', src, f('vbase.vmdk')]);
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-b', 'vbase.vmdk', '-F', 'vmdk', f('vchild.vmdk')], { cwd: dir() });
    run('qemu-io', ['-f', 'vmdk', '-c', 'write -P 0x67 1M 64k', '-c', 'write -P 0x68 70k 1k', f('vchild.vmdk')]);
    await sameAsQemu(f('vchild.vmdk'), 'vmdk');
    // a different parent under the same name
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', src, f('vbase2.vmdk')]);
    fs.renameSync(f('vbase.vmdk'), f('vbase.orig'));
    fs.renameSync(f('vbase2.vmdk'), f('vbase.vmdk'));
    await rejectsWith(openDisk(f('vchild.vmdk')), 'chain-broken', /has CID .* the child expects/);
  });

  it('a qcow2 backing cycle is refused, and maxDepth bounds the chain', async function () {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('cyc-a.qcow2'), '1M']);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', 'cyc-a.qcow2', '-F', 'qcow2', f('cyc-b.qcow2'), '1M'], { cwd: dir() });
    run('qemu-img', ['rebase', '-u', '-b', 'cyc-b.qcow2', '-F', 'qcow2', f('cyc-a.qcow2')], { cwd: dir() });
    await rejectsWith(openDisk(f('cyc-a.qcow2')), 'chain-broken', /loops back/);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', f('d0.qcow2'), '1M']);
    for (let i = 1; i <= 4; i++) run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', `d${i - 1}.qcow2`, '-F', 'qcow2', f(`d${i}.qcow2`)], { cwd: dir() });
    await rejectsWith(openDisk(f('d4.qcow2'), { maxDepth: 3 }), 'chain-broken', /deeper than 3|more than 3 levels/);
    await (await openDisk(f('d4.qcow2'), { maxDepth: 4 })).close();
  });

  it('every file of the chain goes through the injectable opener, with its role and who names it', async function () {
    const seen: LayerRequest[] = [];
    const d = await openDisk(f('top.qcow2'), { openLayer: (req) => { seen.push(req); return openLayerFile(req); } });
    await d.close();
    assert.deepStrictEqual(seen.map((r) => [path.basename(r.path), r.role, r.from && path.basename(r.from)]),
      [['top.qcow2', 'image', null], ['mid.qcow2', 'backing', 'top.qcow2'], ['base.img', 'backing', 'mid.qcow2']]);
    const vmdk: string[] = [];
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=twoGbMaxExtentFlat', src, f('ext.vmdk')]);
    await (await openDisk(f('ext.vmdk'), { openLayer: (req) => { vmdk.push(req.role); return openLayerFile(req); } })).close();
    assert.deepStrictEqual(vmdk, ['image', 'extent']);
    await rejectsWith(openDisk(f('top.qcow2'), { openLayer: async (req) => {
      if (req.role === 'backing') throw new (await import('../../../src/formats/errors')).FormatError('refused-layer', `${req.path}: not allowed`);
      return openLayerFile(req);
    } }), 'refused-layer', /mid\.qcow2: not allowed/);
  });

  it('a backing file, data file or extent that is a device, in /proc or /sys, a directory or a FIFO is refused', async function () {
    const cases: [string, RegExp][] = [['/dev/zero', /under \/dev/], ['/proc/self/environ', /under \/proc/], ['/sys/kernel/notes', /under \/sys/]];
    for (const [target, re] of cases) {
      const img = f(`bad-${path.basename(target)}.qcow2`);
      run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', target, '-F', 'raw', img, '1M']);
      await rejectsWith(openDisk(img), 'refused-layer', re);
    }
    // a symbolic link does not hide a device
    fs.symlinkSync('/dev/zero', f('innocent.img'));
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', 'innocent.img', '-F', 'raw', f('via-link.qcow2'), '1M'], { cwd: dir() });
    await rejectsWith(openDisk(f('via-link.qcow2')), 'refused-layer', /under \/dev/);
    fs.mkdirSync(f('adir'));
    fs.writeFileSync(f('dir-extent.vmdk'), '# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n# Extent description\nRW 2048 FLAT "adir" 0\n');
    await rejectsWith(openDisk(f('dir-extent.vmdk')), 'refused-layer', /adir is a folder|not a regular file \(a directory\)/);
    run('mkfifo', [f('fifo')]);
    fs.writeFileSync(f('fifo-extent.vmdk'), '# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n# Extent description\nRW 2048 FLAT "fifo" 0\n');
    await rejectsWith(openDisk(f('fifo-extent.vmdk')), 'refused-layer', /not a regular file/);
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', 'data_file=df-dev.data', f('df-dev.qcow2'), '1M'], { cwd: dir() });
    fs.rmSync(f('df-dev.data'));
    fs.symlinkSync('/dev/null', f('df-dev.data'));
    await rejectsWith(openDisk(f('df-dev.qcow2')), 'refused-layer', /data file .* under \/dev/);
  });

  it('no file stays open: after refusals part-way down a chain, and after close', async function () {
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const before = fds();
    for (const img of ['top.qcow2', 'vchild.vmdk', 'via-link.qcow2', 'cyc-a.qcow2', 'df-dev.qcow2', 'lost.qcow2', 'dir-extent.vmdk']) {
      try { await (await openDisk(f(img))).close(); } catch { /* refusals are the point */ }
    }
    try { await openDisk(f('d4.qcow2'), { maxDepth: 2 }); } catch { /* too deep, after opening three layers */ }
    assert.strictEqual(fds(), before);
  });

  it('a missing backing file is named with the layer that names it', async function () {
    run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', 'nowhere.qcow2', '-F', 'qcow2', f('lost.qcow2'), '1M'], { cwd: dir() });
    await rejectsWith(openDisk(f('lost.qcow2')), 'not-found', /backing file "nowhere\.qcow2" of .*lost\.qcow2: .*nowhere\.qcow2 does not exist/);
  });
});
