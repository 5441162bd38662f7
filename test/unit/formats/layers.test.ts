// Every file an image pulls in is a layer of its chain, checked before anyone opens it (src/formats/layers.ts).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage } from '../../../src/formats';
import { checkLayerFile, openLayerFile, resolveLayerName, LayerRefused } from '../../../src/formats/layers';
import { codes, tempDir, qemuCreate, run, vmdkDescriptor } from './helpers';

const roles = (info: Awaited<ReturnType<typeof inspectImage>>) => info.chain.map((c) => `${c.role}@${c.level}:${path.basename(c.path)}`);

describe('formats: layers (files an image pulls in)', function () {
  const dir = tempDir(this, 'vdisk-layers-');
  let n = 0;
  const fresh = () => { const d = path.join(dir(), `t${n++}`); fs.mkdirSync(d); return d; };

  it('a VMDK descriptor whose extent is in another folder shows that file as an extent layer', async function () {
    const d = fresh();
    fs.mkdirSync(path.join(d, 'a'));
    fs.mkdirSync(path.join(d, 'b'));
    fs.writeFileSync(path.join(d, 'b', 'secret.bin'), Buffer.alloc(1 << 20, 7));
    const f = vmdkDescriptor(path.join(d, 'a'), 'x.vmdk', '../b/secret.bin');
    const info = await inspectImage(f);
    assert.deepStrictEqual(codes(info), []);
    assert.deepStrictEqual(roles(info), ['image@1:x.vmdk', 'extent@1:secret.bin']);
    assert.strictEqual(info.chain[1].path, path.join(d, 'b', 'secret.bin'));
    assert.deepStrictEqual(info.chain[1].extent, { index: 0, type: 'FLAT', size: 1 << 20, offset: 0 });
    assert.strictEqual(info.chain[1].of, 0);
    assert.strictEqual(info.chain[1].name, '../b/secret.bin');
  });

  it('extents on devices, /proc, a FIFO, a folder or a symlink to a device are layer-not-a-file', async function () {
    const d = fresh();
    run('mkfifo', [path.join(d, 'fifo')]);
    fs.mkdirSync(path.join(d, 'folder'));
    fs.symlinkSync('/dev/zero', path.join(d, 'zero-link'));
    for (const target of ['/dev/zero', '/proc/self/mem', '/proc/self/environ', '/sys/kernel/notes', 'fifo', 'folder', 'zero-link', '/dev/null']) {
      const info = await inspectImage(vmdkDescriptor(d, `x-${n++}.vmdk`, target));
      assert.deepStrictEqual(codes(info), ['layer-not-a-file'], `${target}: ${JSON.stringify(info.problems)}`);
      assert.ok(info.problems[0].message.includes(target), info.problems[0].message);
      assert.strictEqual(info.chain.length, 1, `${target} must not be a usable layer`);
    }
  });

  it('a layer reached through a symlinked folder or a symlinked file is listed by its real path', async function () {
    const d = fresh();
    fs.mkdirSync(path.join(d, 'real'));
    const data = path.join(d, 'real', 'data.bin');
    fs.writeFileSync(data, Buffer.alloc(1 << 20, 3));
    fs.symlinkSync(path.join(d, 'real'), path.join(d, 'via'));
    fs.symlinkSync(data, path.join(d, 'link.bin'));
    for (const target of ['via/data.bin', 'link.bin', 'real/data.bin']) {
      const info = await inspectImage(vmdkDescriptor(d, `s-${n++}.vmdk`, target));
      assert.deepStrictEqual(codes(info), [], target);
      assert.strictEqual(info.chain[1].path, fs.realpathSync(data), target);
    }
  });

  it('a missing extent, a raw device mapping and a json: backing name are named problems', async function () {
    const d = fresh();
    assert.deepStrictEqual(codes(await inspectImage(vmdkDescriptor(d, 'm.vmdk', 'gone.bin'))), ['layer-missing']);
    assert.deepStrictEqual(codes(await inspectImage(vmdkDescriptor(d, 'r.vmdk', 'x-rdm.vmdk', 'VMFSRDM'))), ['layer-unsupported']);
    const j = qemuCreate('qcow2', path.join(d, 'j.qcow2'), '1M', ['-u', '-b', 'json:{"file":{"driver":"file","filename":"/etc/passwd"}}', '-F', 'raw']);
    assert.deepStrictEqual(codes(await inspectImage(j)), ['layer-unsupported']);
    const dev = qemuCreate('qcow2', path.join(d, 'dev.qcow2'), '1M', ['-u', '-b', '/dev/zero', '-F', 'raw']);
    assert.deepStrictEqual(codes(await inspectImage(dev)), ['layer-not-a-file']);
  });

  it('VMDKs made by qemu-img (twoGbMaxExtentSparse/Flat, monolithicFlat): every extent file is a layer', async function () {
    for (const sub of ['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat', 'monolithicFlat']) {
      const d = fresh();
      const f = qemuCreate('vmdk', path.join(d, 'disk.vmdk'), '5G', ['-o', `subformat=${sub}`]);
      const info = await inspectImage(f);
      const files = fs.readdirSync(d).filter((x) => x !== 'disk.vmdk').sort();
      assert.deepStrictEqual(codes(info), [], sub);
      assert.deepStrictEqual(info.chain.slice(1).map((c) => path.basename(c.path)).sort(), files, sub);
      assert.ok(info.chain.slice(1).every((c) => c.role === 'extent' && c.level === 1), sub);
      assert.strictEqual(info.virtualSize, 5 * 2 ** 30);
    }
  });

  it('a VMDK child names its parent (parentFileNameHint): a parent layer at level 2', async function () {
    const d = fresh();
    const base = qemuCreate('vmdk', path.join(d, 'base.vmdk'), '16M');
    const child = qemuCreate('vmdk', path.join(d, 'child.vmdk'), '16M', ['-b', base, '-F', 'vmdk']);
    assert.deepStrictEqual(roles(await inspectImage(child)), ['image@1:child.vmdk', 'parent@2:base.vmdk']);
    fs.rmSync(base);
    assert.deepStrictEqual(codes(await inspectImage(child)), ['layer-missing']);
  });

  it('qcow2 backing files and external data files in other folders are layers; a missing one is named', async function () {
    const d = fresh();
    for (const sub of ['base', 'data', 'top']) fs.mkdirSync(path.join(d, sub));
    const base = qemuCreate('qcow2', path.join(d, 'base', 'base.qcow2'), '16M', ['-o', `data_file=${path.join(d, 'data', 'base.raw')}`]);
    const mid = qemuCreate('qcow2', path.join(d, 'top', 'mid.qcow2'), '16M', ['-b', '../base/base.qcow2', '-F', 'qcow2']);
    const top = qemuCreate('qcow2', path.join(d, 'top', 'top.qcow2'), '16M', ['-b', 'mid.qcow2', '-F', 'qcow2']);
    const info = await inspectImage(top);
    assert.deepStrictEqual(codes(info), []);
    assert.deepStrictEqual(roles(info), ['image@1:top.qcow2', 'backing@2:mid.qcow2', 'backing@3:base.qcow2', 'data-file@3:base.raw']);
    assert.deepStrictEqual(info.chain.map((c) => c.of), [undefined, 0, 1, 2]);
    assert.strictEqual(info.chain[3].path, path.join(d, 'data', 'base.raw'));
    // what qemu itself follows, for comparison
    const q = JSON.parse(run('qemu-img', ['info', '--output=json', '--backing-chain', top])) as { filename: string }[];
    assert.deepStrictEqual(q.map((x) => path.resolve(x.filename)), info.chain.filter((c) => c.role !== 'data-file').map((c) => c.path));
    fs.rmSync(path.join(d, 'data', 'base.raw'));
    const gone = await inspectImage(top);
    assert.deepStrictEqual(codes(gone), ['layer-missing']);
    assert.match(gone.problems[0].message, /data file ".*base\.raw" of .*base\.qcow2/);
    fs.rmSync(base);
    assert.deepStrictEqual(codes(await inspectImage(top)), ['layer-missing']);
  });

  it('a backing file declared raw is data: not followed, whatever its content', async function () {
    const d = fresh();
    const inner = qemuCreate('qcow2', path.join(d, 'inner.qcow2'), '1M', ['-b', '/etc/hostname', '-F', 'raw', '-u']);
    const top = qemuCreate('qcow2', path.join(d, 'top.qcow2'), '1M', ['-u', '-b', inner, '-F', 'raw']);
    const info = await inspectImage(top);
    assert.deepStrictEqual(roles(info), ['image@1:top.qcow2', 'backing@2:inner.qcow2']);
    assert.strictEqual(info.chain[1].format, 'raw');
  });

  it('a backing file that is the image itself is a chain-cycle', async function () {
    const d = fresh();
    const f = qemuCreate('qcow2', path.join(d, 'self.qcow2'), '1M', ['-u', '-b', 'self.qcow2', '-F', 'qcow2']);
    assert.deepStrictEqual(codes(await inspectImage(f)), ['chain-cycle']);
  });

  it('resolveLayerName refuses protocols and Windows paths, resolves the rest against the image folder', function () {
    assert.deepStrictEqual(resolveLayerName('b.img', '/x/y/a.qcow2'), { path: '/x/y/b.img' });
    assert.deepStrictEqual(resolveLayerName('/abs/b.img', '/x/a.qcow2'), { path: '/abs/b.img' });
    assert.deepStrictEqual(resolveLayerName('./dir:1/b.img', '/x/a.qcow2'), { path: '/x/dir:1/b.img' });
    for (const bad of ['nbd://h/x', 'http://h/x', 'json:{}', 'C:\\x.vhd', '\\\\server\\share\\x', 'ssh:host:/x', '']) {
      assert.ok('refused' in resolveLayerName(bad, '/x/a.qcow2'), bad);
    }
  });

  it('openLayerFile opens only the regular file that was checked', function () {
    const d = fresh();
    const f = path.join(d, 'ok.img');
    fs.writeFileSync(f, 'data');
    const o = openLayerFile(f);
    try { assert.strictEqual(fs.fstatSync(o.fd).size, 4); } finally { fs.closeSync(o.fd); }
    run('mkfifo', [path.join(d, 'p')]);
    for (const bad of ['/dev/zero', path.join(d, 'p'), path.join(d, 'none'), '/proc/self/mem']) {
      assert.throws(() => openLayerFile(bad), (e: unknown) => e instanceof LayerRefused, bad);
    }
    assert.strictEqual(checkLayerFile('/dev/zero').ok, false);
  });
});
