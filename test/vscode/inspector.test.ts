// The image inspector (custom editor vdisk.inspector) inside a real VS Code, against the real worker: what the page
// is given and what it reports as drawn, and its reactions to file changes. Its buttons: inspector-actions.test.ts.
import * as assert from 'assert';
import * as fs from 'fs';
import * as vscode from 'vscode';
import type { InspectorProvider } from '../../src/views/inspector/provider';
import type { InspectorModel } from '../../src/views/inspector/messages';
import { useInspectorFixture } from './inspector-fixture';
import { describeLinux } from './platform';
import { until } from './poll';

describeLinux('image inspector (extension host)', 'its images are made with Linux tools (mkfs, xorriso, qemu-img)', function () {
  this.timeout(60_000);
  const fx = useInspectorFixture('inspector-tests');
  const { files, uri, open, ready, fact, action } = fx;
  let insp: InspectorProvider;
  before(() => { insp = fx.insp; });

  it('shows a qemu-img dynamic VHD: format, sizes, id, creator, a one-layer chain, no problems', async () => {
    const { model: m, ms } = await open('dynamic.vhd');
    console.log(`      openWith -> facts drawn (first open): ${ms.toFixed(0)} ms; provider: ${JSON.stringify(insp.timings(uri('dynamic.vhd')))}`);
    assert.strictEqual(m.path, files['dynamic.vhd']);
    assert.deepStrictEqual([m.image.format, m.image.subtype, m.image.creator], ['vhd', 'dynamic', 'qemu']);
    // qemu rounds the size to a CHS geometry
    assert.ok(Math.abs(m.image.virtualSize - 64 * 1024 * 1024) < 1024 * 1024, `virtual size ${m.image.virtualSize}`);
    assert.strictEqual(m.image.fileSize, fs.statSync(files['dynamic.vhd']).size);
    assert.strictEqual(fact(m, 'Format'), 'VHD dynamic');
    assert.match(fact(m, 'Virtual size')!, /^6\d(\.\d)? MiB \([\d,]+ bytes\)$/);
    assert.strictEqual(fact(m, 'Block size'), '2 MiB');
    assert.match(fact(m, 'Unique id')!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(fact(m, 'Creator')!, /^qemu /);
    assert.strictEqual(m.chain.length, 1);
    assert.deepStrictEqual([m.chain[0].role, m.chain[0].status, m.chain[0].kind], ['image', 'ok', 'VHD dynamic']);
    assert.deepStrictEqual(m.problems, []);
    assert.deepStrictEqual(m.attachments, []);
    assert.ok(action(m, 'attachReadOnly').enabled && action(m, 'attach').enabled && action(m, 'createDiff').enabled);
    assert.ok(!action(m, 'detach').enabled, 'Detach is enabled on an image that is not attached');
  });

  it('draws the facts of every image it opens (timings are logged; the 200 ms target lives in bench/vscode)', async () => {
    // Three numbers per open: openWith -> facts sent to the page (inspection through the worker: ours), openWith ->
    // facts drawn (adds VS Code creating the webview: 150-300 ms in code-server, not ours), and what the page drew first.
    const rows: { name: string; drawn: number; posted: number; first?: string }[] = [];
    for (let i = 0; i < 6; i++) {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      const name = ['dynamic.vhd', 'disc.iso', 'broken.vhd'][i % 3];
      const { ms } = await open(name);
      const t = insp.timings(uri(name))!;
      rows.push({ name, drawn: ms, posted: t.factsPostedMs!, first: t.firstPaint });
      console.log(`      ${name}: drawn ${ms.toFixed(0)} ms after openWith; ${JSON.stringify(t, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`);
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const posted = median(rows.map((r) => r.posted));
    const drawn = median(rows.map((r) => r.drawn));
    console.log(`      median: facts sent ${posted.toFixed(1)} ms after the document opened, drawn ${drawn.toFixed(0)} ms after openWith`);
    assert.strictEqual(rows.length, 6);
    for (const r of rows) assert.ok(Number.isFinite(r.drawn) && Number.isFinite(r.posted), `${r.name} was never drawn`);
  });

  it('shows an xorriso ISO: label, read-only attach only, no differencing child', async () => {
    const { model: m } = await open('disc.iso');
    assert.deepStrictEqual([m.image.format, m.image.subtype], ['iso', null]);
    assert.strictEqual(fact(m, 'Volume label'), 'INSPECTOR');
    assert.strictEqual(m.image.fileSize % 2048, 0);
    assert.deepStrictEqual(m.problems, []);
    assert.ok(action(m, 'attachReadOnly').enabled);
    assert.ok(!action(m, 'attach').enabled);
    assert.match(action(m, 'attach').title, /read-only/);
    assert.ok(!action(m, 'createDiff').enabled);
  });

  it('shows a truncated VHD with its problems, their meaning and what to do, marked on the image', async () => {
    const { model: m } = await open('broken.vhd');
    const codes = m.problems.map((p) => p.code);
    assert.ok(codes.includes('truncated'), `problems: ${codes}`);
    assert.ok(codes.includes('footer-missing'), `problems: ${codes}`);
    for (const p of m.problems) {
      assert.ok(p.meaning.length > 40 && p.action.length > 20, `${p.code} has no real explanation`);
      assert.strictEqual(p.layer, 0);
    }
    assert.strictEqual(m.chain[0].status, 'problem');
    assert.deepStrictEqual(m.chain[0].problems, m.problems.map((_, i) => i));
    assert.ok(!action(m, 'createDiff').enabled, 'a child of a damaged image is offered');
  });

  it('draws a differencing chain, then marks the missing parent when it is moved away', async () => {
    const r = await vscode.commands.executeCommand<{ child: string }>('vdisk.createDiff', uri('base.vhd'), files['child.vhd']);
    assert.strictEqual(r?.child, files['child.vhd']);
    const { model: m } = await open('child.vhd');
    assert.deepStrictEqual(m.chain.map((l) => [l.role, l.name, l.kind, l.status]),
      [['image', 'child.vhd', 'VHD differencing', 'ok'], ['parent', 'base.vhd', 'VHD dynamic', 'ok']]);
    assert.strictEqual(fact(m, 'Parent'), files['base.vhd']);
    assert.ok(!action(m, 'attach').enabled || process.platform !== 'linux', 'read-write attach of a differencing disk is offered on Linux');

    // the watcher sees the parent go away: the page is re-rendered with a missing layer
    fs.renameSync(files['base.vhd'], files['orphan.vhd']);
    const broken = await until('the missing parent to show', () => {
      const x = insp.lastRendered(uri('child.vhd'));
      return x?.state === 'ready' && x.chain.some((l) => l.status === 'missing') ? x : undefined;
    });
    const missing = broken.chain[1];
    assert.deepStrictEqual([missing.role, missing.path, missing.name, missing.kind], ['parent', null, 'base.vhd', 'not found']);
    assert.match(missing.note ?? '', /base\.vhd/);
    const p = broken.problems[missing.problems[0]];
    assert.strictEqual(p.code, 'parent-missing');
    assert.strictEqual(p.layer, 1);
    assert.match(p.action, /move|copy/i);

    // and put back: readable again
    fs.renameSync(files['orphan.vhd'], files['base.vhd']);
    await until('the chain to heal', () => {
      const x = insp.lastRendered(uri('child.vhd'));
      return x?.state === 'ready' && x.chain.length === 2 && x.chain.every((l) => l.status === 'ok');
    });
  });

  it('marks a damaged parent on its own layer, not on the image', async () => {
    await open('child.vhd');
    const fd = fs.openSync(files['base.vhd'], 'r+');
    const at = fs.fstatSync(fd).size - 512 + 28;   // creator application, inside the checksummed footer
    const orig = Buffer.alloc(1);
    fs.readSync(fd, orig, 0, 1, at);
    try {
      fs.writeSync(fd, Buffer.from([orig[0] ^ 0xff]), 0, 1, at);
      fs.fsyncSync(fd);
      const m = await until('the parent\'s problem to show', () => {
        const x = insp.lastRendered(uri('child.vhd'));
        return x?.state === 'ready' && x.problems.length ? x : undefined;
      });
      assert.deepStrictEqual(m.problems.map((p) => [p.code, p.layer]), [['footer-checksum', 1]]);
      assert.deepStrictEqual(m.chain.map((l) => l.status), ['ok', 'problem']);
      assert.deepStrictEqual(m.chain[1].problems, [0]);
    } finally {
      fs.writeSync(fd, orig, 0, 1, at);
      fs.closeSync(fd);
    }
    await until('the chain to be clean again', () => {
      const x = insp.lastRendered(uri('child.vhd'));
      return x?.state === 'ready' && x.problems.length === 0;
    });
  });

  it('"Inspect this layer" opens the parent in its own inspector', async () => {
    await open('child.vhd');
    await insp.simulate(uri('child.vhd'), { type: 'openLayer', level: 1 });
    await until('the parent\'s inspector', () => insp.lastRendered(uri('base.vhd'))?.state === 'ready');
    const active = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    assert.ok(active instanceof vscode.TabInputCustom, 'the active tab is not a custom editor');
    assert.deepStrictEqual([active.viewType, active.uri.fsPath], ['vdisk.inspector', files['base.vhd']]);
  });

  it('a file that cannot be read shows the error with Retry, and comes back when the file does', async () => {
    fs.copyFileSync(files['disc.iso'], files['gone.vhd']);
    await open('gone.vhd');
    fs.renameSync(files['gone.vhd'], `${files['gone.vhd']}.away`);
    const err = await until('the error state', () => {
      const x = insp.lastRendered(uri('gone.vhd'));
      return x?.state === 'error' ? x : undefined;
    }) as Extract<InspectorModel, { state: 'error' }>;
    assert.match(err.message, /gone\.vhd/);
    assert.match(err.hint, /moved|deleted/);
    await until('the page to draw the error', () => insp.lastPainted(uri('gone.vhd'))?.state === 'error');
    await insp.simulate(uri('gone.vhd'), { type: 'retry' });
    const again = insp.lastRendered(uri('gone.vhd'));
    assert.ok(again?.state === 'error', 'Retry without the file still fails');
    assert.ok(again.attempts > err.attempts, `attempts ${err.attempts} -> ${again.attempts}`);
    fs.renameSync(`${files['gone.vhd']}.away`, files['gone.vhd']);
    await insp.simulate(uri('gone.vhd'), { type: 'retry' });
    assert.strictEqual(ready('gone.vhd').image.format, 'iso');
  });

  it('re-inspects when the file changes on disk', async () => {
    await open('disc.iso');
    fs.appendFileSync(files['disc.iso'], Buffer.alloc(100));   // no longer whole 2048-byte sectors
    const m = await until('the new problem to show', () => {
      const x = insp.lastRendered(uri('disc.iso'));
      return x?.state === 'ready' && x.problems.length ? x : undefined;
    });
    assert.deepStrictEqual(m.problems.map((p) => p.code), ['iso-size-not-multiple-of-2048']);
    assert.match(m.status, /changed on disk/);
    fs.truncateSync(files['disc.iso'], m.image.fileSize - 100);
  });
});
