// Resize: every format grown and shrunk (to the smallest safe size) and read back by qemu-img, libvhdi and openDisk
// (the old data byte for byte, zeros after); GPT disks keep a valid backup (sfdisk --verify and sgdisk -v clean);
// refusals leave the file byte-identical; kill -9 after each durable write step leaves the old or the new disk.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import * as P from '../../../src/common/protocol';
import { createImage } from '../../../src/formats/manage/create';
import { resizeImage } from '../../../src/formats/manage/resize';
import { createDifferencingDisk, inspectImage, openDisk } from '../../../src/formats';
import { replayLog } from '../../../src/formats/vhdx/log';
import { registerManageHandlers } from '../../../src/worker/manage';
import type { Backend } from '../../../src/worker/backend';
import { cli } from '../../support/worker';
import { resizeArgs } from '../../../src/cli/manage-args';
import { qemuInfo, run, tempDir, vhdiInfo } from '../formats/helpers';

const MiB = 2 ** 20;
/** Every test disk starts at 16 MiB; data at 1-3 MiB, 12-13 MiB and one sector at 13 MiB: the smallest safe size is 14 MiB. */
const BASE = 16 * MiB, GROWN = 48 * MiB, SMALLEST = 14 * MiB;
const DATA = ['write -P 0x5a 1M 2M', 'write -P 0x3c 12M 1M', 'write -P 0x11 13M 512'];
type Kind = 'raw' | 'qcow2' | 'vhd-fixed' | 'vhd-dynamic' | 'vhdx-fixed' | 'vhdx-dynamic';
const KINDS: Kind[] = ['raw', 'qcow2', 'vhd-fixed', 'vhd-dynamic', 'vhdx-fixed', 'vhdx-dynamic'];
const EXT: Record<Kind, string> = { raw: 'img', qcow2: 'qcow2', 'vhd-fixed': 'vhd', 'vhd-dynamic': 'vhd', 'vhdx-fixed': 'vhdx', 'vhdx-dynamic': 'vhdx' };
const QF: Record<Kind, string> = { raw: 'raw', qcow2: 'qcow2', 'vhd-fixed': 'vpc', 'vhd-dynamic': 'vpc', 'vhdx-fixed': 'vhdx', 'vhdx-dynamic': 'vhdx' };

async function make(file: string, kind: Kind, size = BASE): Promise<void> {
  if (kind === 'raw') { fs.writeFileSync(file, ''); fs.truncateSync(file, size); }
  else if (kind === 'qcow2') run('qemu-img', ['create', '-q', '-f', 'qcow2', file, String(size)]);
  else {
    const [format, type] = kind.split('-') as ['vhd' | 'vhdx', 'fixed' | 'dynamic'];
    await createImage({ path: file, format, type, size, ...(format === 'vhdx' && type === 'dynamic' ? { blockSize: MiB } : {}) });
  }
}

function write(file: string, kind: Kind, cmds: string[]): void {
  run('qemu-io', ['-f', QF[kind], ...cmds.flatMap((c) => ['-c', c]), file]);
}

async function diskBytes(file: string): Promise<Buffer> {
  const d = await openDisk(file);
  try { const b = Buffer.alloc(d.size); await d.read(b, 0); return b; } finally { await d.close(); }
}

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const isZero = (b: Buffer) => b.every((x) => x === 0);

/** qemu-img's view of the disk as raw bytes (a fixed VHD's footer shows as one more sector, a qemu quirk). */
function qemuRaw(file: string, kind: Kind, size: number): Buffer {
  const out = `${file}.qemu.raw`;
  run('qemu-img', ['convert', '-f', QF[kind], '-O', 'raw', file, out]);
  try { return fs.readFileSync(out).subarray(0, size); } finally { fs.rmSync(out); }
}

async function checkReaders(file: string, kind: Kind, size: number): Promise<void> {
  const q = qemuInfo(file, QF[kind])['virtual-size'];
  if (kind === 'vhd-fixed') {
    // qemu sizes some fixed VHDs by the file (footer included): it must see the disk as one newly made at that size
    const fresh = `${file}.fresh.vhd`;
    await make(fresh, kind, size);
    try { assert.strictEqual(q, qemuInfo(fresh, 'vpc')['virtual-size'], 'qemu-img info: as a new fixed VHD of that size'); } finally { fs.rmSync(fresh); }
  } else assert.strictEqual(q, size, 'qemu-img info: the new virtual size');
  if (kind === 'qcow2' || kind.startsWith('vhdx')) assert.match(run('qemu-img', ['check', '-f', QF[kind], file]), /No errors were found/);
  if (kind.startsWith('vhd')) assert.strictEqual(vhdiInfo(file).mediaSize, size, 'libvhdi reads the new size');
}

describe('manage: resize', function () {
  const dir = tempDir(this, 'vdisk-resize-');
  const at = (n: string) => path.join(dir(), n);

  for (const kind of KINDS) {
    it(`${kind}: grows (old data, zeros after), then shrinks to the smallest safe size; qemu-img, libvhdi, openDisk agree`, async function () {
      const f = at(`grow.${kind}.${EXT[kind]}`);
      await make(f, kind);
      write(f, kind, DATA);
      const original = await diskBytes(f);
      const r = await resizeImage(f, { size: GROWN });
      assert.strictEqual(r.before, BASE);
      assert.strictEqual(r.after, GROWN);
      const i = await inspectImage(f);
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.virtualSize, GROWN);
      await checkReaders(f, kind, GROWN);
      const grown = await diskBytes(f);
      assert.ok(grown.subarray(0, BASE).equals(original), 'the old disk byte for byte (openDisk)');
      assert.ok(isZero(grown.subarray(BASE)), 'zeros after the old end (openDisk)');
      const q = qemuRaw(f, kind, GROWN);
      assert.ok(q.subarray(0, BASE).equals(original) && isZero(q.subarray(BASE)), 'qemu-img reads the same bytes');

      const dry = await resizeImage(f, { smallest: true, dryRun: true });
      assert.strictEqual(dry.after, SMALLEST, 'the last non-zero byte is at 13 MiB + 512: rounded up to 1 MiB');
      assert.strictEqual((await inspectImage(f)).virtualSize, GROWN, 'a dry run writes nothing');
      const s = await resizeImage(f, { smallest: true });
      assert.strictEqual(s.after, SMALLEST);
      assert.deepStrictEqual((await inspectImage(f)).problems, []);
      await checkReaders(f, kind, SMALLEST);
      assert.ok((await diskBytes(f)).equals(original.subarray(0, SMALLEST)), 'the kept range byte for byte');
      assert.ok(qemuRaw(f, kind, SMALLEST).equals(original.subarray(0, SMALLEST)));
    });
  }

  it('vhd-dynamic: grows past its BAT (relocated) and vhdx: its file shrinks after a shrink', async function () {
    const v = at('bat.vhd');
    await make(v, 'vhd-dynamic', 4 * MiB);
    write(v, 'vhd-dynamic', ['write -P 0x77 0 4M']);
    await resizeImage(v, { size: 1024 * MiB });
    write(v, 'vhd-dynamic', ['write -P 0x66 1000M 1M']);
    const d = await diskBytes(v);
    assert.ok(d.subarray(0, 4 * MiB).every((x) => x === 0x77) && d.subarray(1000 * MiB, 1001 * MiB).every((x) => x === 0x66));
    assert.deepStrictEqual((await inspectImage(v)).problems, []);
    const x = at('trunc.vhdx');
    await make(x, 'vhdx-dynamic', 256 * MiB);
    write(x, 'vhdx-dynamic', ['write -P 0x5a 1M 1M']);
    const big = fs.statSync(x).size;
    await resizeImage(x, { size: 1024 * MiB });
    write(x, 'vhdx-dynamic', ['write -P 0x5a 900M 8M', 'write -z 900M 8M']);
    assert.ok(fs.statSync(x).size > big);
    await resizeImage(x, { size: 128 * MiB }); // the blocks at 900 MiB hold zeros: they are dropped, the file cut
    assert.ok(fs.statSync(x).size <= big, `${fs.statSync(x).size} <= ${big}`);
    assert.match(run('qemu-img', ['check', x]), /No errors were found/);
  });

  /** The first `n` bytes of the disk (openDisk), for disks too large to read whole. */
  async function head(file: string, n: number): Promise<Buffer> {
    const d = await openDisk(file);
    try { const b = Buffer.alloc(n); await d.read(b, 0); return b; } finally { await d.close(); }
  }
  const GiB = 2 ** 30;

  it('vhdx-dynamic: grows past what its BAT region holds (a larger BAT at the end of the file, region tables through the log)', async function () {
    const f = at('bigbat.vhdx');
    await make(f, 'vhdx-dynamic');
    write(f, 'vhdx-dynamic', DATA);
    const original = await diskBytes(f);
    const regionsBefore = ((await inspectImage(f)).details!.regions as { offset: number; length: number }[]).map((r) => [r.offset, r.length]);
    await resizeImage(f, { size: 200 * GiB }); // 1 MiB blocks: a 1 MiB BAT region holds about 128 GiB
    const i = await inspectImage(f);
    assert.deepStrictEqual(i.problems, []);
    assert.strictEqual(i.virtualSize, 200 * GiB);
    assert.notDeepStrictEqual((i.details!.regions as { offset: number; length: number }[]).map((r) => [r.offset, r.length]), regionsBefore, 'the BAT region moved');
    assert.match(run('qemu-img', ['check', f]), /No errors were found/);
    assert.strictEqual(qemuInfo(f)['virtual-size'], 200 * GiB);
    assert.strictEqual(vhdiInfo(f).mediaSize, 200 * GiB);
    assert.ok((await head(f, BASE)).equals(original));
    write(f, 'vhdx-dynamic', ['write -P 0x66 150G 1M']);
    run('qemu-io', ['-f', 'vhdx', '-c', 'read -P 0x66 150G 1M', '-c', 'read -P 0x5a 1M 2M', f]);
    const d = await openDisk(f);
    try { const b = Buffer.alloc(MiB); await d.read(b, 150 * GiB); assert.ok(b.every((x) => x === 0x66), 'a block past the old BAT\'s reach'); } finally { await d.close(); }
    assert.match(run('qemu-img', ['check', f]), /No errors were found/);
    // the smallest safe size reads only allocated blocks (a full scan of 200 GiB would not finish here)
    assert.strictEqual((await resizeImage(f, { smallest: true, dryRun: true })).after, 150 * GiB + MiB);
    const raw = at('sparse.img');
    fs.writeFileSync(raw, '');
    fs.truncateSync(raw, 2 ** 40);
    write(raw, 'raw', ['write -P 0x77 700G 4K']);
    assert.strictEqual((await resizeImage(raw, { smallest: true, dryRun: true })).after, 700 * GiB + MiB, 'raw: holes skipped (qemu-img map)');
  });

  for (const step of [1, 2, 3, 4, 5, 6]) {
    it(`vhdx-dynamic moving its BAT: SIGKILL after step ${step} leaves the old or the new disk`, async function () {
      const f = at(`bigbat-crash-${step}.vhdx`);
      await make(f, 'vhdx-dynamic');
      write(f, 'vhdx-dynamic', DATA);
      const original = await diskBytes(f);
      const r = cli(['resize', f, '--size', String(200 * GiB)], { VDISK_TEST_CRASH_AFTER: `resize:${step}` });
      assert.match(r.stderr, /SIGKILL/);
      let i = await inspectImage(f);
      if (i.needsLogReplay) {
        const fd = fs.openSync(f, 'r+');
        try { assert.strictEqual(replayLog(fd), 1); } finally { fs.closeSync(fd); }
        i = await inspectImage(f);
      }
      assert.deepStrictEqual(i.problems, []);
      assert.strictEqual(i.virtualSize, step >= 3 ? 200 * GiB : BASE);
      assert.match(run('qemu-img', ['check', f]), /No errors were found/);
      assert.ok((await head(f, BASE)).equals(original));
      await resizeImage(f, { size: 200 * GiB });
      assert.strictEqual((await inspectImage(f)).virtualSize, 200 * GiB);
      assert.ok((await head(f, BASE)).equals(original));
    });
  }

  for (const kind of ['raw', 'qcow2', 'vhd-dynamic', 'vhdx-dynamic', 'vhdx-fixed'] as Kind[]) {
    it(`${kind} with GPT: the backup GPT follows the end (grow and smallest), partitions intact, sfdisk --verify clean`, async function () {
      const f = at(`gpt.${kind}.${EXT[kind]}`);
      await make(f, kind, 32 * MiB);
      const raw = at(`gpt.${kind}.raw`);
      fs.writeFileSync(raw, ''); fs.truncateSync(raw, 32 * MiB);
      run('sfdisk', ['-q', raw], { input: 'label: gpt\nstart=2048, size=14M\n' });
      fs.writeFileSync(`${raw}.part`, Buffer.alloc(MiB, 0x42));
      run('qemu-io', ['-f', 'raw', '-c', `write -s ${raw}.part 14M 1M`, raw]); // the partition's last MiB
      run('qemu-img', ['convert', '-n', '-f', 'raw', '-O', QF[kind], raw, f]);
      const verify = (label: string) => {
        const out = at(`${label}.check.raw`);
        run('qemu-img', ['convert', '-f', QF[kind], '-O', 'raw', f, out]);
        assert.match(run('sfdisk', ['--verify', out]), /No errors detected/, label);
        assert.match(run('sgdisk', ['-v', out]), /No problems found/, label);
        const part = fs.readFileSync(out).subarray(MiB, 15 * MiB);
        fs.rmSync(out);
        return part;
      };
      const before = verify('before');
      const g = await resizeImage(f, { size: GROWN });
      assert.strictEqual(g.partitionTable, 'gpt');
      assert.strictEqual(g.gptBackupMoved, true);
      assert.ok(verify('grown').equals(before), 'the partition reads the same');
      const s = await resizeImage(f, { smallest: true });
      assert.strictEqual(s.after, 16 * MiB, 'the partition ends at 15 MiB, the backup GPT follows it: 16 MiB');
      assert.ok(verify('shrunk').equals(before));
      const keep = sha(f);
      await assert.rejects(resizeImage(f, { size: 8 * MiB }), /would cut its GPT partitions, which need/);
      assert.strictEqual(sha(f), keep, 'refused: byte-identical');
    });
  }

  // the GPT move's steps: backup entries, backup header, protective MBR, primary header (and, growing, the old backup
  // cleared): kill -9 after each leaves the partition readable, and running resize again ends with a clean GPT
  for (const [to, steps] of [[GROWN, [1, 2, 3, 4, 5]], [20 * MiB, [1, 2, 3, 4]]] as [number, number[]][]) {
    for (const step of steps) {
      it(`raw with GPT to ${to / MiB} MiB: SIGKILL after GPT step ${step}, then resize again: sgdisk -v clean, partition intact`, async function () {
        const f = at(`gpt-crash-${to}-${step}.img`);
        await make(f, 'raw', 32 * MiB);
        run('sfdisk', ['-q', f], { input: 'label: gpt\nstart=2048, size=14M\n' });
        fs.writeFileSync(`${f}.part`, Buffer.alloc(MiB, 0x42));
        run('qemu-io', ['-f', 'raw', '-c', `write -s ${f}.part 14M 1M`, f]);
        const part = () => fs.readFileSync(f).subarray(MiB, 15 * MiB);
        const before = part();
        const r = cli(['resize', f, '--size', String(to)], { VDISK_TEST_CRASH_AFTER: `resize-gpt:${step}` });
        assert.match(r.stderr, /SIGKILL/);
        assert.strictEqual(fs.statSync(f).size, to > 32 * MiB ? to : 32 * MiB, 'a grow changes the size before the GPT moves, a shrink after');
        assert.match(run('sfdisk', ['--dump', f]), /start=\s*2048, size=\s*28672/, 'the partition is still there');
        assert.ok(part().equals(before));
        await resizeImage(f, { size: to });
        assert.strictEqual(fs.statSync(f).size, to);
        assert.match(run('sgdisk', ['-v', f]), /No problems found/);
        assert.match(run('sfdisk', ['--verify', f]), /No errors detected/);
        assert.ok(part().equals(before));
      });
    }
  }

  it('an empty GPT shrinks no further than its first usable sector plus the backup GPT', async function () {
    const f = at('empty-gpt.img');
    await make(f, 'raw');
    run('sfdisk', ['-q', f], { input: 'label: gpt\n' });
    const r = await resizeImage(f, { smallest: true });
    assert.strictEqual(r.after, 2 * MiB, 'first usable LBA 2048 (1 MiB) + one sector + 33 sectors of backup, rounded up');
    assert.match(run('sgdisk', ['-v', f]), /No problems found/);
    assert.match(run('sfdisk', ['--verify', f]), /No errors detected/);
  });

  it('MBR: refuses to cut a partition; the file stays byte-identical', async function () {
    const f = at('mbr.img');
    await make(f, 'raw');
    run('sfdisk', ['-q', f], { input: 'label: dos\nstart=2048, size=10M\n' });
    const keep = sha(f);
    await assert.rejects(resizeImage(f, { size: 8 * MiB }), /would cut its MBR partitions, which need 11534336 bytes/);
    assert.strictEqual(sha(f), keep);
    const r = await resizeImage(f, { smallest: true });
    assert.strictEqual(r.after, 11 * MiB);
  });

  it('refusals leave the file byte-identical: data past the new end, VMDK, VDI, differencing, qcow2 overlay, over 64 TiB, CHS-sized VHD', async function () {
    const cases: [string, () => Promise<void>, number, RegExp][] = [];
    const data = at('data.vhdx');
    cases.push([data, async () => { await make(data, 'vhdx-dynamic'); write(data, 'vhdx-dynamic', ['write -P 1 10M 4K']); }, 8 * MiB, /holds data at offset 10485760, past 8388608 bytes/]);
    const vmdk = at('r.vmdk');
    cases.push([vmdk, async () => { run('qemu-img', ['create', '-q', '-f', 'vmdk', vmdk, '64M']); }, 128 * MiB, /is VMDK: vdisk resizes raw, VHD, VHDX and qcow2 images\. Use vmware-vdiskmanager -x, or convert it/]);
    const vdi = at('r.vdi');
    cases.push([vdi, async () => { run('qemu-img', ['create', '-q', '-f', 'vdi', vdi, '64M']); }, 128 * MiB, /is VDI: .*VBoxManage modifymedium --resize/]);
    const base = at('base.vhdx'), child = at('child.avhdx');
    cases.push([child, async () => { await make(base, 'vhdx-dynamic'); await createDifferencingDisk(base, child); }, 128 * MiB, /is a differencing disk: Windows resizes only fixed and dynamic disks/]);
    const vbase = at('base.vhd'), vchild = at('child.vhd');
    cases.push([vchild, async () => { await make(vbase, 'vhd-dynamic'); await createDifferencingDisk(vbase, vchild); }, 128 * MiB, /is a differencing disk/]);
    const huge = at('huge.vhdx');
    cases.push([huge, async () => { await make(huge, 'vhdx-dynamic'); }, 65 * 2 ** 40, /a VHDX holds at most 64 TiB/]);
    const chs = at('chs.vhd');
    cases.push([chs, async () => { run('qemu-img', ['create', '-q', '-f', 'vpc', chs, '64M']); }, 100 * MiB, /sized by their CHS geometry: 104857600 bytes would read as \d+/]);
    const qov = at('over.qcow2');
    cases.push([qov, async () => { run('qemu-img', ['create', '-q', '-f', 'qcow2', at('qbase.qcow2'), '64M']); run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', at('qbase.qcow2'), '-F', 'qcow2', qov]); }, 128 * MiB, /has a backing file/]);
    for (const [file, setup, size, re] of cases) {
      await setup();
      const keep = sha(file);
      await assert.rejects(resizeImage(file, { size }), re, file);
      assert.strictEqual(sha(file), keep, `${file} byte-identical`);
    }
  });

  it('refuses to resize a disk another image has in its chain (same folder or Recent Images) unless forced', async function () {
    const home = at('with-children'), elsewhere = at('elsewhere');
    fs.mkdirSync(home, { recursive: true }); fs.mkdirSync(elsewhere, { recursive: true });
    const base = path.join(home, 'base.vhdx'), child = path.join(home, 'child.avhdx'), far = path.join(elsewhere, 'far.vhdx');
    await make(base, 'vhdx-dynamic');
    await createDifferencingDisk(base, child);
    const keep = sha(base);
    await assert.rejects(resizeImage(base, { size: 2 * BASE }), /child\.avhdx has base\.vhdx in its chain: a child must keep its parent's size/);
    assert.strictEqual(sha(base), keep, 'refused: byte-identical');
    // a child kept in another folder is found through the images the user has (Recent Images)
    fs.rmSync(child);
    await createDifferencingDisk(base, far);
    await resizeImage(base, { size: BASE, dryRun: true }); // a dry run only computes: it is not refused
    await assert.rejects(resizeImage(base, { size: 2 * BASE, otherImages: [far] }), /far\.vhdx has base\.vhdx in its chain/);
    assert.strictEqual(sha(base), keep);
    const r = await resizeImage(base, { size: 2 * BASE, otherImages: [far], force: true });
    assert.strictEqual(r.after, 2 * BASE, 'forced: resized');
    const c = cli(['resize', base, '--size', String(3 * BASE)]);
    assert.strictEqual(c.code, 0, 'the CLI checks the folder only (far.vhdx is elsewhere)');
    assert.deepStrictEqual(resizeArgs(base, (f) => (f === '--force' ? true : f === '--size' ? '64M' : undefined)), { path: base, size: 64 * MiB, dryRun: false, force: true });
  });

  /** The worker's manage handlers over an in-memory JSON-RPC connection, with `backend`. */
  function connect(backend: Backend) {
    const [a, b] = [new PassThrough(), new PassThrough()];
    const server = createMessageConnection(new StreamMessageReader(a), new StreamMessageWriter(b));
    const client = createMessageConnection(new StreamMessageReader(b), new StreamMessageWriter(a));
    registerManageHandlers({
      connection: server, backend, fromFormatError: (e) => e,
      handle: (fn) => async (params, token) => {
        try { return await fn(params as never, token); } catch (e) { return new ResponseError((e as { code?: number }).code ?? 1, (e as Error).message, (e as { data?: unknown }).data); }
      },
    });
    server.listen(); client.listen();
    return { client, server };
  }

  it('on Windows, VHD/VHDX go to ResizeVirtualDisk with the size (the smallest safe one worked out by vdisk); raw does not', async function () {
    const calls: unknown[][] = [];
    const fake = {
      name: 'windows', list: async () => [], limitations: () => [],
      createDisk: async () => undefined, setParent: async () => undefined,
      // stands in for ResizeVirtualDisk: our writer makes the change so that inspect reads it back
      resize: async (image: string, bytes: number) => { calls.push(['resize', image, bytes]); await resizeImage(image, { size: bytes }); },
    } as unknown as Backend;
    const { client, server } = connect(fake);
    try {
      const f = at('win.vhdx');
      await make(f, 'vhdx-dynamic');
      write(f, 'vhdx-dynamic', DATA);
      const g = await client.sendRequest(P.Resize, { path: f, size: GROWN });
      assert.deepStrictEqual(calls.shift(), ['resize', f, GROWN]);
      assert.strictEqual(g.after, GROWN);
      assert.match(g.notes.join(' '), /ResizeVirtualDisk/);
      const s = await client.sendRequest(P.Resize, { path: f, smallest: true });
      assert.deepStrictEqual(calls.shift(), ['resize', f, SMALLEST]);
      assert.strictEqual(s.after, SMALLEST);
      const keep = sha(f);
      await assert.rejects(client.sendRequest(P.Resize, { path: f, size: 8 * MiB }), /holds data at offset/);
      assert.deepStrictEqual(calls, [], 'an unsafe shrink never reaches Windows');
      assert.strictEqual(sha(f), keep);
      const r = at('win.img');
      await make(r, 'raw');
      await client.sendRequest(P.Resize, { path: r, size: GROWN });
      assert.deepStrictEqual(calls, [], 'raw images are resized by vdisk on Windows too');
      assert.strictEqual(fs.statSync(r).size, GROWN);
    } finally { server.dispose(); client.dispose(); }
  });

  it('the worker refuses an attached image (and its dry run does not need it detached); the CLI parses sizes', async function () {
    const f = at('attached.vhdx');
    await make(f, 'vhdx-dynamic');
    const backend = { name: 'linux', list: async () => [{ device: '/dev/loop99', image: f, readOnly: false, engine: 'loop', lifetime: 'session', ours: true }], limitations: () => [] } as unknown as Backend;
    const { client, server } = connect(backend);
    try {
      const keep = sha(f);
      await assert.rejects(client.sendRequest(P.Resize, { path: f, size: 128 * MiB }), (e: ResponseError<unknown>) => e.code === P.ErrorCode.Busy && /in use by the attached disk \/dev\/loop99: detach it first/.test(e.message));
      assert.strictEqual(sha(f), keep);
      const dry = await client.sendRequest(P.Resize, { path: f, smallest: true, dryRun: true });
      assert.strictEqual(dry.after, MiB);
      await assert.rejects(client.sendRequest(P.Resize, { path: f }), /needs a new size/);
    } finally { server.dispose(); client.dispose(); }

    const c = at('cli.img');
    await make(c, 'raw');
    const r = cli(['resize', c, '--size', '1G', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual((r.json as P.ResizeResult).after, 2 ** 30);
    assert.strictEqual(fs.statSync(c).size, 2 ** 30);
    const both = cli(['resize', c, '--size', '1G', '--smallest']);
    assert.strictEqual(both.code, 1);
    assert.match(both.stderr, /--size SIZE or --smallest/);
    const small = cli(['resize', c, '--smallest']);
    assert.strictEqual(small.code, 0, small.stderr);
    assert.match(small.stdout, /1 GiB -> 1 MiB \(1048576 bytes/);
    assert.match(cli(['resize', c, '--size', '12Q']).stderr, /is not a size/);
  });

  // kill -9 right after each durable step: the image reads as the old or the new disk (after a log replay)
  const CRASH: [Kind, number, number[]][] = [
    ['vhdx-dynamic', GROWN, [1, 2, 3, 4, 5, 6]], ['vhdx-fixed', GROWN, [1, 2, 3, 4, 5, 6]], ['vhdx-dynamic', SMALLEST, [2, 4, 6]],
    ['vhd-dynamic', GROWN, [1, 2, 3, 4]], ['vhd-dynamic', SMALLEST, [2, 3, 4]], ['vhd-fixed', GROWN, [1, 2, 3]], ['vhd-fixed', SMALLEST, [1, 2]],
  ];
  for (const [kind, to, steps] of CRASH) {
    for (const step of steps) {
      it(`${kind} to ${to / MiB} MiB: SIGKILL after step ${step} leaves the old or the new disk, data intact`, async function () {
        const f = at(`crash-${kind}-${to}-${step}.${EXT[kind]}`);
        await make(f, kind);
        write(f, kind, DATA);
        const original = await diskBytes(f);
        const r = cli(['resize', f, '--size', String(to)], { VDISK_TEST_CRASH_AFTER: `resize:${step}` });
        assert.strictEqual(r.code, 2, r.stdout + r.stderr);
        assert.match(r.stderr, /SIGKILL/);
        let i = await inspectImage(f);
        if (kind.startsWith('vhdx')) {
          assert.strictEqual(i.needsLogReplay, step >= 3 && step <= 4, 'the header names the log only between steps 2 and 4 of the transaction');
          if (i.needsLogReplay) {
            const copy = `${f}.qemu`;
            fs.copyFileSync(f, copy);
            run('qemu-img', ['check', '-r', 'all', copy]); // qemu replays the log on a read-write open
            assert.strictEqual(qemuInfo(copy)['virtual-size'], to, 'qemu\'s replay yields the new size');
            fs.rmSync(copy);
            const fd = fs.openSync(f, 'r+');
            try { assert.strictEqual(replayLog(fd), 1); } finally { fs.closeSync(fd); }
            i = await inspectImage(f);
          }
          assert.strictEqual(i.virtualSize, step >= 3 ? to : BASE);
          assert.match(run('qemu-img', ['check', f]), /No errors were found/);
        } else if (kind === 'vhd-dynamic' && step === 3) {
          // the end footer (Windows, vdisk, libvhdi) names the new size, the copy at 0 (qemu) the old: the next
          // resize finishes it first
          assert.deepStrictEqual(i.problems.map((p) => p.code), ['bad-header']);
          assert.strictEqual(i.virtualSize, to);
          await resizeImage(f, { size: to });
          i = await inspectImage(f);
        } else {
          const done = kind === 'vhd-dynamic' ? step >= 3 : kind === 'vhd-fixed' && to > BASE ? step >= 3 : step >= 2;
          assert.strictEqual(i.virtualSize, done ? to : BASE);
        }
        assert.deepStrictEqual(i.problems, []);
        if (kind.startsWith('vhd')) assert.strictEqual(vhdiInfo(f).mediaSize, i.virtualSize);
        const now = await diskBytes(f);
        // a fixed VHD shrink's step 1 puts the new footer in the range being dropped (checked to be zeros before)
        const keep = Math.min(now.length, original.length, kind === 'vhd-fixed' && to < now.length ? to : Infinity);
        assert.ok(now.subarray(0, keep).equals(original.subarray(0, keep)), 'the data up to the smaller size is intact');
        if (keep === now.length || keep === original.length) assert.ok(isZero(now.subarray(keep)), 'zeros past the old end');
        // the interrupted operation can simply be run again
        await resizeImage(f, { size: to });
        assert.deepStrictEqual((await inspectImage(f)).problems, []);
        const end = await diskBytes(f);
        assert.strictEqual(end.length, to);
        assert.ok(end.subarray(0, Math.min(to, BASE)).equals(original.subarray(0, Math.min(to, BASE))), 'the finished resize: the old data');
        assert.ok(isZero(end.subarray(BASE)), 'and zeros after');
      });
    }
  }
});
