// Files an image pulls in, through a real worker: VMDK extents and qcow2 backing/data files in other folders are
// layers (inspect, deps) and read right (compared with qemu-img); devices, /proc files and FIFOs named as extents or
// backing files, and missing backing files, refuse the attach with a named problem and leave nothing behind.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { sha256 } from '../support/worker';
import { deviceSuite, qemuImg, qemuWrite, rawOf, readDevice, rejectsWith, writeDevice } from './linux-support';

const MiB = 1 << 20;

function descriptor(file: string, extents: string[], type = 'FLAT'): string {
  const lines = extents.map((e) => `RW 2048 ${type} "${e}"${type === 'FLAT' ? ' 0' : ''}`);
  fs.writeFileSync(file, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n${lines.join('\n')}\n`);
  return file;
}

describe('Linux: every file an image pulls in is a checked layer (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  let client: WorkerClient;

  deviceSuite('vdisk-layers-', (d, c) => { dir = d; client = c; }, () => client);

  const sub = (...names: string[]) => { const p = path.join(dir, ...names); fs.mkdirSync(p, { recursive: true }); return p; };

  it('a 300-byte VMDK descriptor naming files in other folders: extents are layers, the device reads them, deps names them', async () => {
    const a = crypto.randomBytes(MiB), b = crypto.randomBytes(MiB);
    fs.writeFileSync(path.join(sub('x'), 'one.bin'), a);
    fs.writeFileSync(path.join(sub('y'), 'two.bin'), b);
    const desc = descriptor(path.join(sub('d'), 'disk.vmdk'), ['../x/one.bin', `${dir}/y/two.bin`]);
    assert.ok(fs.statSync(desc).size < 400);
    const info = await client.request(P.Inspect, { path: desc });
    assert.deepStrictEqual(info.problems, []);
    assert.deepStrictEqual(info.chain.map((c) => [c.role, c.level, c.path]),
      [['image', 1, desc], ['extent', 1, path.join(dir, 'x/one.bin')], ['extent', 1, path.join(dir, 'y/two.bin')]]);
    const disk = await client.request(P.Attach, { path: desc, readOnly: true, lifetime: 'session' });
    assert.ok(readDevice(disk.device, 0, 2 * MiB).equals(Buffer.concat([a, b])));
    assert.ok(readDevice(disk.device, 0, 2 * MiB).equals(rawOf(desc, 'vmdk', dir)), 'same bytes as qemu-img');
    const deps = await client.request(P.Deps, { target: disk.device });
    assert.deepStrictEqual(deps.map((e) => [e.ancestorLevel, path.basename(e.dependentVolumeRelativePath)]), [[1, 'disk.vmdk'], [1, 'one.bin'], [1, 'two.bin']]);
    assert.ok(deps.every((e) => e.flags.includes('mult-backing-files') && !e.flags.includes('parent')));
    await client.request(P.Detach, { target: disk.device });
  });

  for (const [what, target] of [['/dev/zero', '/dev/zero'], ['/proc/self/mem', '/proc/self/mem'], ['a FIFO', 'FIFO'], ['a block device', 'LOOP']] as const) {
    it(`an extent on ${what} is layer-not-a-file: attach refused, read-only and read-write, nothing left`, async () => {
      let t: string = target;
      if (target === 'FIFO') { t = path.join(dir, 'pipe'); cp.execFileSync('mkfifo', [t]); }
      if (target === 'LOOP') t = '/dev/loop-control';
      const desc = descriptor(path.join(dir, 'evil.vmdk'), [t]);
      const info = await client.request(P.Inspect, { path: desc });
      assert.deepStrictEqual(info.problems.map((p) => p.code), ['layer-not-a-file']);
      for (const readOnly of [true, false]) {
        await assert.rejects(client.request(P.Attach, { path: desc, readOnly, lifetime: 'session' }),
          rejectsWith(P.ErrorCode.ImageProblem, /not a regular file|is under|device|FIFO/, 'layer-not-a-file'));
      }
      assert.deepStrictEqual(await client.request(P.List, undefined).then((l) => l.filter((d) => d.image === desc)), []);
    });
  }

  it('qcow2 with its backing file and data file in other folders: read-only and read-write read and write like qemu', async () => {
    const base = path.join(sub('base'), 'base.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${path.join(sub('data'), 'base.raw')}`, base, '16M']);
    qemuWrite(base, 'qcow2', 0x11, 0, MiB);
    const top = path.join(sub('top'), 'top.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', '../base/base.qcow2', '-F', 'qcow2', top]);
    qemuWrite(top, 'qcow2', 0x22, 4 * MiB, MiB);
    const info = await client.request(P.Inspect, { path: top });
    assert.deepStrictEqual(info.chain.map((c) => [c.role, c.level, path.basename(c.path)]),
      [['image', 1, 'top.qcow2'], ['backing', 2, 'base.qcow2'], ['data-file', 2, 'base.raw']]);
    const baseSums = [sha256(base), sha256(path.join(dir, 'data/base.raw'))];
    const ro = await client.request(P.Attach, { path: top, readOnly: true, lifetime: 'session' });
    assert.ok(readDevice(ro.device, 0, 16 * MiB).equals(rawOf(top, 'qcow2', dir)), 'same bytes as qemu-img');
    const deps = await client.request(P.Deps, { target: ro.device });
    assert.deepStrictEqual(deps.map((e) => [e.ancestorLevel, path.basename(e.dependentVolumeRelativePath)]), [[1, 'top.qcow2'], [2, 'base.qcow2'], [2, 'base.raw']]);
    await client.request(P.Detach, { target: ro.device });
    const rw = await client.request(P.Attach, { path: top, readOnly: false, lifetime: 'session' });
    const data = crypto.randomBytes(64 << 10);
    writeDevice(rw.device, 8 * MiB, data);
    await client.request(P.Detach, { target: rw.device });
    const raw = rawOf(top, 'qcow2', dir);
    assert.ok(raw.subarray(8 * MiB, 8 * MiB + data.length).equals(data));
    assert.ok(raw.subarray(0, MiB).every((x) => x === 0x11) && raw.subarray(4 * MiB, 5 * MiB).every((x) => x === 0x22));
    assert.deepStrictEqual([sha256(base), sha256(path.join(dir, 'data/base.raw'))], baseSums, 'backing layers never written');
  });

  it('a qcow2 whose backing file is missing, a device or a json: name: named problem, attach refused', async () => {
    const make = (name: string, backing: string, fmt: string) => {
      const f = path.join(dir, name);
      qemuImg(['create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', fmt, f, '16M']);
      return f;
    };
    for (const [f, code] of [[make('gone.qcow2', 'nowhere.qcow2', 'qcow2'), 'layer-missing'], [make('zero.qcow2', '/dev/zero', 'raw'), 'layer-not-a-file'],
      [make('json.qcow2', 'json:{"driver":"file","filename":"/etc/shadow"}', 'raw'), 'layer-unsupported']] as const) {
      const info = await client.request(P.Inspect, { path: f });
      assert.deepStrictEqual(info.problems.map((p) => p.code), [code]);
      await assert.rejects(client.request(P.Attach, { path: f, readOnly: true, lifetime: 'session' }), rejectsWith(P.ErrorCode.ImageProblem, /./, code));
    }
  });

  it('a twoGbMaxExtentSparse VMDK and a VMDK child of a VMDK parent attach read-write and match qemu-img', async () => {
    const split = path.join(sub('split'), 'split.vmdk');
    qemuImg(['create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', split, '3G']);
    const d1 = await client.request(P.Attach, { path: split, readOnly: false, lifetime: 'session' });
    assert.ok((await client.request(P.Inspect, { path: split })).chain.filter((c) => c.role === 'extent').length >= 2);
    writeDevice(d1.device, 2 * 1024 * MiB - MiB / 2, Buffer.alloc(MiB, 0x5c)); // across the first and second extent
    await client.request(P.Detach, { target: d1.device });
    const check = cp.execFileSync('qemu-io', ['-f', 'vmdk', '-c', `read -P 0x5c ${2 * 1024 * MiB - MiB / 2} ${MiB}`, split], { encoding: 'utf8' });
    assert.doesNotMatch(check, /fail/i, check);
    assert.match(check, /read 1048576\/1048576 bytes/);
    const base = path.join(sub('p'), 'base.vmdk');
    qemuImg(['create', '-q', '-f', 'vmdk', base, '16M']);
    qemuWrite(base, 'vmdk', 0x33, 0, MiB);
    const child = path.join(sub('c'), 'child.vmdk');
    qemuImg(['create', '-q', '-f', 'vmdk', '-b', base, '-F', 'vmdk', child]);
    const info = await client.request(P.Inspect, { path: child });
    assert.deepStrictEqual(info.chain.map((c) => [c.role, c.level]), [['image', 1], ['parent', 2]]);
    const d2 = await client.request(P.Attach, { path: child, readOnly: true, lifetime: 'session' });
    assert.ok(readDevice(d2.device, 0, MiB).every((x) => x === 0x33), 'reads through the parent');
    await client.request(P.Detach, { target: d2.device });
  });
});
