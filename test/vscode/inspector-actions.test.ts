// The image inspector's buttons (as page messages) inside a real VS Code, against the real worker: attach and
// detach through the commands, an attach by another tool, Inspect as Text, malformed messages and disabled actions.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { InspectorProvider } from '../../src/views/inspector/provider';
import { parseFromWebview } from '../../src/views/inspector/messages';
import { useInspectorFixture } from './inspector-fixture';
import { describeLinux } from './platform';
import { until } from './poll';

// the same suite title as inspector.test.ts: these tests were part of it and keep their full names
describeLinux('image inspector (extension host)', 'its images are made with Linux tools (mkfs, xorriso, qemu-img)', function () {
  this.timeout(60_000);
  const fx = useInspectorFixture('inspector-action-tests');
  const { files, uri, open, ready, action } = fx;
  let insp: InspectorProvider;
  let cli: string;
  before(() => { insp = fx.insp; cli = fx.cli; });

  it('Attach Read-Only attaches through the command, shows the device, then Detach detaches', async () => {
    await open('disc.iso');
    await insp.simulate(uri('disc.iso'), { type: 'action', action: 'attachReadOnly' });
    const m = ready('disc.iso');
    assert.strictEqual(m.attachments.length, 1, `status: ${m.status}`);
    const dev = m.attachments[0];
    assert.match(dev.device, /^\/dev\/loop\d+$/);
    assert.deepStrictEqual([dev.access, dev.ours], ['read-only', true]);
    assert.match(m.status, new RegExp(`Attached as ${dev.device} \\(read-only\\)`));
    assert.ok(action(m, 'detach').enabled && !action(m, 'attachReadOnly').enabled);
    const ro = fs.readFileSync(`/sys/block/${path.basename(dev.device)}/ro`, 'utf8').trim();
    assert.strictEqual(ro, '1', 'the kernel does not see the device as read-only');
    await until('the page to draw the attachment', () => insp.lastPainted(uri('disc.iso'))?.revision === ready('disc.iso').revision);

    await insp.simulate(uri('disc.iso'), { type: 'action', action: 'detach' });
    const after = ready('disc.iso');
    assert.deepStrictEqual(after.attachments, []);
    assert.match(after.status, new RegExp(`Detached ${dev.device}`));
    assert.ok(!fs.existsSync(`/sys/block/${path.basename(dev.device)}/loop/backing_file`)
      || fs.readFileSync(`/sys/block/${path.basename(dev.device)}/loop/backing_file`, 'utf8').trim() !== files['disc.iso']);
  });

  it('follows an attach by another tool (the CLI) and detaches it from the page', async () => {
    await open('disc.iso');
    const out = cp.execFileSync(process.execPath, [cli, 'attach', '--read-only', '--json', files['disc.iso']], { encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    const device = (JSON.parse(out) as { device: string }).device;
    try {
      const m = await until('the external attach to show', () => {
        const x = insp.lastRendered(uri('disc.iso'));
        return x?.state === 'ready' && x.attachments.some((d) => d.device === device) ? x : undefined;
      }, 20000);
      assert.ok(action(m, 'detach').enabled);
      await insp.simulate(uri('disc.iso'), { type: 'action', action: 'detach' });
      assert.deepStrictEqual(ready('disc.iso').attachments, []);
    } finally {
      cp.spawnSync(process.execPath, [cli, 'detach', device], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    }
  });

  it('Inspect as Text opens the same facts as a vdisk-report document', async () => {
    await open('dynamic.vhd');
    await insp.simulate(uri('dynamic.vhd'), { type: 'action', action: 'inspectText' });
    const doc = await until('the report editor', () => vscode.window.activeTextEditor?.document.uri.scheme === 'vdisk-report' && vscode.window.activeTextEditor.document);
    assert.match(doc.getText(), new RegExp(`^Image: ${files['dynamic.vhd'].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(doc.getText(), new RegExp(`^Id: ${ready('dynamic.vhd').image.id}$`, 'm'));
  });

  it('ignores malformed page messages and refuses a disabled action', async () => {
    for (const bad of [null, 'action', { type: 'action', action: 'format' }, { type: 'openLayer', level: -1 }, { type: 'rendered', revision: '1' }, { type: 'eval' }]) {
      assert.strictEqual(parseFromWebview(bad), null, JSON.stringify(bad));
    }
    assert.deepStrictEqual(parseFromWebview({ type: 'action', action: 'detach', extra: 1 }), { type: 'action', action: 'detach' });
    await open('disc.iso');
    const before = ready('disc.iso');
    await insp.simulate(uri('disc.iso'), { type: 'action', action: 'attach' });   // read-write ISO: disabled
    const m = ready('disc.iso');
    assert.deepStrictEqual(m.attachments, []);
    assert.match(m.status, /not available/);
    assert.ok(m.revision > before.revision);
  });
});
