import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage, createDifferencingDisk, FormatError } from '../../../src/formats';
import { parentCandidates, translateLocator } from '../../../src/formats/chain';
import { codes, tempDir, qemuCreate, run, vhdiInfo, withVhdimount, sameBytes } from './helpers';

const MiB = 1024 * 1024;

/** A base disk with recognisable data, plus its raw contents as qemu reads them. */
function makeBase(dir: string, fmt: 'vhd' | 'vhdx', name = `base.${fmt}`): { file: string; raw: string } {
  const file = qemuCreate(fmt === 'vhd' ? 'vpc' : 'vhdx', path.join(dir, name), '24M');
  const f = fmt === 'vhd' ? 'vpc' : 'vhdx';
  run('qemu-io', ['-f', f, '-c', 'write -P 0x5a 0 1M', '-c', 'write -P 0xa5 17M 64k', file]);
  const raw = path.join(dir, `${name}.raw`);
  run('qemu-img', ['convert', '-f', f, '-O', 'raw', file, raw]);
  return { file, raw };
}

describe('formats: differencing children and chains', function () {
  const dir = tempDir(this);
  let n = 0;
  const fresh = () => { const d = path.join(dir(), `c${n++}`); fs.mkdirSync(d); return d; };

  for (const [pf, cf] of [['vhd', 'vhd'], ['vhdx', 'vhdx'], ['vhd', 'vhdx'], ['vhdx', 'vhd']] as const) {
    it(`${cf} child of a ${pf} parent: vhdiinfo accepts it, vhdimount reads the parent's data through it`, async function () {
      const d = fresh();
      const base = makeBase(d, pf);
      const child = path.join(d, `child.${cf === 'vhdx' && pf === 'vhdx' ? 'avhdx' : cf}`);
      const r = await createDifferencingDisk(base.file, child);
      assert.deepStrictEqual(r, { child, format: cf });
      const i = await inspectImage(child);
      const p = await inspectImage(base.file);
      assert.strictEqual(i.subtype, 'differencing');
      assert.strictEqual(i.virtualSize, p.virtualSize);
      assert.strictEqual(i.parent!.id, p.id);
      assert.strictEqual(i.parent!.resolvedPath, base.file);
      assert.strictEqual(i.parent!.locators.relative, `.\\base.${pf}`);
      assert.strictEqual(i.parent!.locators.absolute, base.file.split('/').join('\\'));
      assert.deepStrictEqual(i.chain.map((c) => c.path), [child, base.file]);
      assert.deepStrictEqual(i.problems, []);
      if (cf === 'vhd') assert.strictEqual(i.details!.allocatedBlocks, 0);
      if (cf === 'vhdx') assert.strictEqual(i.virtualDiskId, p.format === 'vhdx' ? p.virtualDiskId : i.virtualDiskId);
      const v = vhdiInfo(child);
      assert.strictEqual(v.diskType, 'Differential');
      assert.strictEqual(v.identifier, i.id);
      assert.strictEqual(v.parentIdentifier, p.id);
      assert.strictEqual(v.mediaSize, p.virtualSize);
      await withVhdimount(child, (vhdi1) => {
        assert.strictEqual(fs.statSync(vhdi1).size, fs.statSync(base.raw).size);
        assert.ok(sameBytes(vhdi1, base.raw, fs.statSync(base.raw).size), 'child reads as the parent');
      });
    });
  }

  it('a 3-deep chain made by the writer reads through in vhdimount and resolves in order', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhdx');
    await createDifferencingDisk(base.file, path.join(d, 'l1.avhdx'));
    await createDifferencingDisk(path.join(d, 'l1.avhdx'), path.join(d, 'l2.vhd'));
    await createDifferencingDisk(path.join(d, 'l2.vhd'), path.join(d, 'l3.vhdx'));
    const i = await inspectImage(path.join(d, 'l3.vhdx'));
    assert.deepStrictEqual(i.chain.map((c) => path.basename(c.path)), ['l3.vhdx', 'l2.vhd', 'l1.avhdx', 'base.vhdx']);
    assert.deepStrictEqual(i.problems, []);
    await withVhdimount(path.join(d, 'l3.vhdx'), (vhdi1) => assert.ok(sameBytes(vhdi1, base.raw, 24 * MiB)));
  });

  it('follows the relative locator across folders (..\\base.vhd)', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhd');
    fs.mkdirSync(path.join(d, 'sub'));
    const child = path.join(d, 'sub', 'c.vhd');
    await createDifferencingDisk(base.file, child);
    const i = await inspectImage(child);
    assert.strictEqual(i.parent!.locators.relative, '..\\base.vhd');
    assert.strictEqual(i.parent!.resolvedPath, base.file);
  });

  it('falls back to the absolute locator when the child moved', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhdx');
    const child = path.join(d, 'c.vhdx');
    await createDifferencingDisk(base.file, child);
    const moved = path.join(dir(), `moved-${n++}.vhdx`);
    fs.renameSync(child, moved);
    const i = await inspectImage(moved);
    assert.strictEqual(i.parent!.resolvedPath, base.file);
    assert.deepStrictEqual(i.problems, []);
  });

  it('translates Windows locators on Linux like Windows\' relative rule', function () {
    const child = '/data/vm/child.vhdx';
    assert.strictEqual(translateLocator('.\\base.vhdx', '/data/vm', 'linux'), '/data/vm/base.vhdx');
    assert.strictEqual(translateLocator('..\\disks\\base.vhdx', '/data/vm', 'linux'), '/data/disks/base.vhdx');
    assert.strictEqual(translateLocator('C:\\VMs\\base.vhdx', '/data/vm', 'linux'), null);
    assert.strictEqual(translateLocator('/srv/base.vhdx', '/data/vm', 'linux'), '/srv/base.vhdx');
    assert.strictEqual(translateLocator('\\srv\\vm\\base.vhdx', '/data/vm', 'linux'), '/srv/vm/base.vhdx');
    assert.strictEqual(translateLocator('\\\\server\\share\\base.vhdx', '/data/vm', 'linux'), null);
    assert.strictEqual(translateLocator('\\\\?\\C:\\VMs\\base.vhdx', '/data/vm', 'linux'), null);
    const c = parentCandidates(child, 'vhdx', { id: null, name: null, locators: {
      relative: '.\\a.vhdx', volume: '\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\VMs\\b.vhdx', absolute: 'C:\\VMs\\c.vhdx' } }, 'linux');
    assert.deepStrictEqual(c.map((x) => [x.how, x.path]), [['relative', '/data/vm/a.vhdx'], ['volume', '/data/vm/b.vhdx'], ['absolute', '/data/vm/c.vhdx']]);
    const v = parentCandidates(child, 'vhd', { id: null, name: 'x.vhd', locators: { relative: '.\\x.vhd', absolute: 'D:\\x.vhd' } }, 'linux');
    assert.deepStrictEqual(v.map((x) => x.path), ['/data/vm/x.vhd'], 'duplicates collapse');
  });

  it('parent-missing, parent-id-mismatch, parent-unreadable', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhd');
    const child = path.join(d, 'c.vhd');
    await createDifferencingDisk(base.file, child);
    fs.renameSync(base.file, `${base.file}.away`);
    const m = await inspectImage(child);
    assert.ok(codes(m).includes('parent-missing'));
    assert.strictEqual(m.parent!.resolvedPath, null);
    // where it was looked for travels as data, not only in the message
    assert.deepStrictEqual(m.problems.find((p) => p.code === 'parent-missing')!.tried, [{ how: 'relative', path: base.file }]);
    qemuCreate('vpc', base.file, '24M'); // same name, another disk
    assert.ok(codes(await inspectImage(child)).includes('parent-id-mismatch'));
    fs.rmSync(base.file);
    fs.writeFileSync(base.file, Buffer.alloc(8192, 7));
    assert.ok(codes(await inspectImage(child)).includes('parent-unreadable'));
    fs.rmSync(base.file);
    run('mkfifo', [base.file]); // must not hang
    assert.ok(codes(await inspectImage(child)).includes('layer-not-a-file'));
  });

  it('a problem in a parent names its layer (index and path), beside the message', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhd');
    const child = path.join(d, 'c.vhd');
    await createDifferencingDisk(base.file, child);
    fs.truncateSync(base.file, fs.statSync(base.file).size - 512); // the end footer goes; the copy at 0 still names the disk
    const m = await inspectImage(child);
    const inParent = m.problems.filter((p) => p.layer);
    assert.ok(inParent.length > 0, JSON.stringify(m.problems));
    for (const p of inParent) {
      assert.deepStrictEqual(p.layer, { index: 1, path: fs.realpathSync(base.file) });
      assert.match(p.message, /\(in parent /);
    }
    assert.ok(m.problems.every((p) => p.layer || !/\(in parent /.test(p.message)));
  });

  it('a VHDX parent written after the child was made no longer matches (DataWriteGuid changed)', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhdx');
    const child = path.join(d, 'c.vhdx');
    await createDifferencingDisk(base.file, child);
    run('qemu-io', ['-f', 'vhdx', '-c', 'write -P 1 2M 4k', base.file]);
    assert.ok(codes(await inspectImage(child)).includes('parent-id-mismatch'));
  });

  it('chain-cycle and chain-too-deep', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhd');
    await createDifferencingDisk(base.file, path.join(d, 'a.vhd'));
    await createDifferencingDisk(path.join(d, 'a.vhd'), path.join(d, 'b.vhd'));
    await createDifferencingDisk(path.join(d, 'b.vhd'), path.join(d, 'new.vhd'));
    fs.renameSync(path.join(d, 'new.vhd'), path.join(d, 'a.vhd')); // a -> b -> a
    assert.ok(codes(await inspectImage(path.join(d, 'a.vhd'))).includes('chain-cycle'));

    const e = fresh();
    const b2 = makeBase(e, 'vhdx');
    let prev = b2.file;
    for (let k = 0; k < 5; k++) { const c = path.join(e, `d${k}.vhdx`); await createDifferencingDisk(prev, c); prev = c; }
    const deep = await inspectImage(prev, { maxDepth: 3 });
    assert.ok(codes(deep).includes('chain-too-deep'));
    assert.strictEqual(deep.chain.length, 4);
    assert.strictEqual((await inspectImage(prev)).chain.length, 6);
  });

  it('refuses to overwrite, a non-VHD parent, a broken parent chain, and other extensions', async function () {
    const d = fresh();
    const base = makeBase(d, 'vhd');
    const child = path.join(d, 'c.vhd');
    await createDifferencingDisk(base.file, child);
    const before = fs.readFileSync(child);
    await assert.rejects(createDifferencingDisk(base.file, child), (e: unknown) => e instanceof FormatError && e.code === 'exists');
    assert.ok(fs.readFileSync(child).equals(before), 'existing file untouched');
    const q = qemuCreate('qcow2', path.join(d, 'q.qcow2'), '8M');
    await assert.rejects(createDifferencingDisk(q, path.join(d, 'x.vhd')), (e: unknown) => e instanceof FormatError && e.code === 'unsupported');
    await assert.rejects(createDifferencingDisk(base.file, path.join(d, 'x.img')), (e: unknown) => e instanceof FormatError && e.code === 'unsupported');
    fs.renameSync(base.file, `${base.file}.away`);
    await assert.rejects(createDifferencingDisk(child, path.join(d, 'g.vhd')), (e: unknown) => e instanceof FormatError && e.code === 'chain-broken' && /parent-missing/.test(e.message));
    await assert.rejects(createDifferencingDisk(path.join(d, 'none.vhd'), path.join(d, 'h.vhd')), (e: unknown) => e instanceof FormatError && e.code === 'not-found');
    const huge = qemuCreate('vhdx', path.join(d, 'huge.vhdx'), '3T');
    await assert.rejects(createDifferencingDisk(huge, path.join(d, 'big.vhd')), (e: unknown) => e instanceof FormatError && e.code === 'unsupported' && /2040 GiB/.test(e.message));
    const big = await createDifferencingDisk(huge, path.join(d, 'big.vhdx'));
    assert.strictEqual((await inspectImage(big.child)).virtualSize, 3 * 1024 ** 4);
    assert.strictEqual(vhdiInfo(big.child).mediaSize, 3 * 1024 ** 4);
    for (const f of ['x.vhd', 'x.img', 'g.vhd', 'h.vhd', 'big.vhd']) assert.ok(!fs.existsSync(path.join(d, f)), `${f} not created`);
  });
});
