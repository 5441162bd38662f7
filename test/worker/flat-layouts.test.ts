// Fixed and flat layouts on a plain loop device (issue 15.1): a fixed VHDX whose BAT maps every block in order, a
// static VDI with an identity block map and a monolithicFlat VMDK are attached as their file with an offset and a
// size limit, no daemon. What the device reads equals `qemu-img convert -O raw`; writes land in the data run only
// (everything outside it is byte-identical and `qemu-img check` is clean); read-only leaves the sha256 unchanged.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { inspectImage } from '../../src/formats';
import { WorkerClient } from '../../src/host/worker-client';
import { sha256 } from '../support/worker';
import { daemonsMentioning, deviceSuite, qemuImg, qemuWrite, rawOf, readDevice, writeDevice } from './linux-support';

const MiB = 1 << 20;
const SIZE = 24 * MiB + 3 * 512; // not a multiple of any block size: the size limit must cut the last block

interface Layout { name: string; fmt: string; opts: string[]; ext: string; dataFile: (img: string) => string }
const LAYOUTS: Layout[] = [
  { name: 'fixed VHDX', fmt: 'vhdx', opts: ['-o', 'subformat=fixed,block_size=8M,block_state_zero=off'], ext: 'vhdx', dataFile: (i) => i },
  { name: 'static VDI', fmt: 'vdi', opts: ['-o', 'static=on'], ext: 'vdi', dataFile: (i) => i },
  { name: 'monolithicFlat VMDK', fmt: 'vmdk', opts: ['-o', 'subformat=monolithicFlat'], ext: 'vmdk', dataFile: (i) => i.replace(/\.vmdk$/, '-flat.vmdk') },
];

describe('flat layouts on a plain loop device (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  let client: WorkerClient;

  deviceSuite('vdisk-flat-', (d, c) => { dir = d; client = c; }, () => client);

  function make(l: Layout): string {
    const img = path.join(dir, `disk.${l.ext}`);
    qemuImg(['create', '-q', '-f', l.fmt, ...l.opts, img, String(SIZE)]);
    qemuWrite(img, l.fmt, 0x5a, MiB, 64 << 10);
    qemuWrite(img, l.fmt, 0xa5, SIZE - 4096, 4096);
    return img;
  }

  /** Where the data run sits in the file, from the format layer (what the worker attaches). */
  async function dataRun(l: Layout, img: string): Promise<{ file: string; offset: number }> {
    const info = await inspectImage(img);
    if (l.fmt === 'vmdk') return { file: l.dataFile(img), offset: 0 };
    const f = info.details?.flatData as { offset: number; size: number };
    assert.ok(f, `${l.name}: the format layer found no flat data run`);
    assert.strictEqual(f.size, SIZE);
    return { file: img, offset: f.offset };
  }

  for (const l of LAYOUTS) {
    it(`${l.name}: read-only, the device reads what qemu-img convert reads, no daemon, sha256 unchanged`, async () => {
      const img = make(l);
      const before = [sha256(img), sha256(l.dataFile(img))];
      const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
      assert.deepStrictEqual({ engine: disk.engine, image: disk.image, size: disk.sizeBytes }, { engine: 'loop', image: img, size: SIZE });
      assert.deepStrictEqual(daemonsMentioning(dir), []);
      assert.ok(readDevice(disk.device, 0, SIZE).equals(rawOf(img, l.fmt, dir)), 'device bytes = qemu-img convert -O raw');
      assert.throws(() => writeDevice(disk.device, 0, Buffer.alloc(4096, 1)), /EPERM|EROFS|EACCES/);
      await client.request(P.Detach, { target: img });
      assert.deepStrictEqual([sha256(img), sha256(l.dataFile(img))], before);
    });

    it(`${l.name}: read-write writes only the data run; metadata byte-identical, qemu-img check clean`, async () => {
      const img = make(l);
      const run = await dataRun(l, img);
      const file0 = fs.readFileSync(run.file);
      const other0 = run.file === img ? null : fs.readFileSync(img);
      const disk = await client.request(P.Attach, { path: img, readOnly: false, lifetime: 'session' });
      assert.strictEqual(disk.engine, 'loop');
      const data = crypto.randomBytes(3 * MiB);
      writeDevice(disk.device, 5 * MiB + 4096, data);
      writeDevice(disk.device, SIZE - 512, Buffer.alloc(512, 0x77)); // the very last sector
      await client.request(P.Detach, { target: disk.device });
      const file1 = fs.readFileSync(run.file);
      assert.strictEqual(file1.length, file0.length, 'the file did not grow');
      assert.ok(file1.subarray(0, run.offset).equals(file0.subarray(0, run.offset)), 'everything before the data run is unchanged');
      assert.ok(file1.subarray(run.offset + SIZE).equals(file0.subarray(run.offset + SIZE)), 'everything after the data run is unchanged');
      if (other0) assert.ok(fs.readFileSync(img).equals(other0), 'the descriptor is unchanged');
      qemuImg(['check', '-q', '-f', l.fmt, img]); // throws on a non-zero exit
      const raw = rawOf(img, l.fmt, dir);
      assert.ok(raw.subarray(5 * MiB + 4096, 5 * MiB + 4096 + data.length).equals(data), 'written data reads back through qemu');
      assert.ok(raw.subarray(SIZE - 512).every((b) => b === 0x77));
      assert.ok(raw.subarray(MiB, MiB + (64 << 10)).every((b) => b === 0x5a), 'earlier data is intact');
    });
  }

  it('a fixed VHDX whose BAT is not in file order is not put on a plain loop device (vdisk\'s FUSE server, read-only), and still reads right', async () => {
    const img = make(LAYOUTS[0]);
    const info = await inspectImage(img);
    const bat = (info.details?.regions as { guid: string; offset: number }[]).find((r) => r.guid === '2dc27766-f623-4200-9d64-115e9bfd4a08')!;
    const fd = fs.openSync(img, 'r+');
    try { // swap the first two payload entries (the data of blocks 0 and 1 trades places: still a valid image)
      const b = Buffer.alloc(16);
      fs.readSync(fd, b, 0, 16, bat.offset);
      fs.writeSync(fd, Buffer.concat([b.subarray(8), b.subarray(0, 8)]), 0, 16, bat.offset);
    } finally { fs.closeSync(fd); }
    assert.strictEqual((await inspectImage(img)).details?.flatData, undefined);
    const disk = await client.request(P.Attach, { path: img, readOnly: true, lifetime: 'session' });
    assert.strictEqual(disk.engine, 'vdisk-fuse');
    assert.ok(readDevice(disk.device, 0, SIZE).equals(rawOf(img, 'vhdx', dir)));
    await client.request(P.Detach, { target: img });
  });
});
