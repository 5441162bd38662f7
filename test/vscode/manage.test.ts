// Managing images from VS Code (issue 13): New Virtual Disk..., Locate Parent... (command, tree rows, inspector).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { InspectorProvider } from '../../src/views/inspector/provider';
import { GetCapabilities } from '../../src/common/protocol';
import type { CompactResult, ConvertResult, CreateImageResult, MergeResult, SetParentResult } from '../../src/common/protocol';
import { until } from './poll';

const EXT_ID = 'vdisk.vdisk';

function nextError(a: VdiskApi): Promise<{ command: string; message: string; actions: string[] }> {
  return new Promise((resolve) => { const d = a.onDidShowError((e) => { d.dispose(); resolve(e); }); });
}

describe('managing images (extension host)', function () {
  this.timeout(60_000);
  let a: VdiskApi;
  let dir: string;
  const at = (n: string) => path.join(dir, n);

  before(async () => {
    const ext = vscode.extensions.getExtension<VdiskApi>(EXT_ID);
    assert.ok(ext, `${EXT_ID} is not installed`);
    a = await ext.activate();
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(ws, 'the test workspace has a folder');
    dir = path.join(ws, 'manage-tests');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('New Virtual Disk initialises the disk: GPT and an ext4 partition with its label, offered by the capability report', async () => {
    const caps = await a.client.request(GetCapabilities);
    const ext4 = caps.initFileSystems?.find((f) => f.fileSystem === 'ext4');
    assert.ok(ext4?.available, `mkfs.ext4 is offered here: ${JSON.stringify(caps.initFileSystems)}`);
    const f = at('init.vhdx');
    const r = await vscode.commands.executeCommand<CreateImageResult>('vdisk.newDisk', { path: f, format: 'vhdx', type: 'dynamic', size: 64 << 20, blockSize: 1 << 20, fileSystem: 'ext4', label: 'data' });
    assert.deepStrictEqual(r?.init?.partition && { ...r.init.partition, writtenBytes: 0 }, { offset: 1 << 20, size: 62 << 20, fileSystem: 'ext4', label: 'data', writtenBytes: 0 });
  });

  it('New Virtual Disk creates the disk asked for, adds it to Recent Images, and never overwrites', async () => {
    const f = at('new.vhdx');
    const r = await vscode.commands.executeCommand<CreateImageResult>('vdisk.newDisk', { path: f, format: 'vhdx', type: 'dynamic', size: 64 << 20, blockSize: 1 << 20 });
    assert.strictEqual(r?.path, f);
    assert.strictEqual(r?.blockSize, 1 << 20);
    assert.ok(fs.statSync(f).size < 8 << 20);
    assert.strictEqual(a.recent.paths[0], f);
    const shown = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.newDisk', { path: f, format: 'vhd', type: 'fixed', size: 8 << 20 }), undefined);
    assert.match((await shown).message, /already exists; it will not be overwritten/);
  });

  it('Locate Parent reconnects a moved parent; the inspector offers it only while the link is broken', async () => {
    const base = at('lp-base.vhdx'), child = at('lp-child.avhdx');
    await vscode.commands.executeCommand('vdisk.newDisk', { path: base, format: 'vhdx', type: 'dynamic', size: 16 << 20, blockSize: 1 << 20 });
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(base), child);
    fs.mkdirSync(at('moved'));
    const moved = at('moved/lp-base.vhdx');
    fs.renameSync(base, moved);
    const insp = (a as VdiskApi & { inspector: InspectorProvider }).inspector;
    const u = vscode.Uri.file(child);
    await vscode.commands.executeCommand('vscode.openWith', u, 'vdisk.inspector');
    const broken = await until('the inspector of the broken child', () => { const m = insp.lastRendered(u); return m?.state === 'ready' ? m : undefined; });
    const offer = broken.state === 'ready' ? broken.actions.find((x) => x.id === 'locateParent') : undefined;
    assert.ok(offer?.enabled, 'Locate Parent… is offered on a missing parent');
    const r = await vscode.commands.executeCommand<SetParentResult>('vdisk.locateParent', u, moved);
    assert.strictEqual(r?.parent, moved);
    assert.strictEqual(r?.locators.relative, '.\\moved\\lp-base.vhdx');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand('vscode.openWith', u, 'vdisk.inspector');
    const fixed = await until('the inspector of the repaired child', () => {
      const m = insp.lastRendered(u);
      return m?.state === 'ready' && m.problems.length === 0 ? m : undefined;
    });
    assert.ok(fixed.state === 'ready' && !fixed.actions.some((x) => x.id === 'locateParent'));
  });

  it('Locate Parent refuses a parent with another identity, naming both, and changes nothing', async () => {
    const base = at('id-base.vhd'), other = at('id-other.vhd'), child = at('id-child.vhd');
    await vscode.commands.executeCommand('vdisk.newDisk', { path: base, format: 'vhd', type: 'dynamic', size: 16 << 20 });
    await vscode.commands.executeCommand('vdisk.newDisk', { path: other, format: 'vhd', type: 'dynamic', size: 16 << 20 });
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(base), child);
    fs.rmSync(base);
    const before = fs.readFileSync(child);
    const shown = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.locateParent', vscode.Uri.file(child), other), undefined);
    assert.match((await shown).message, /is not the parent id-child\.vhd was made from/);
    assert.ok(fs.readFileSync(child).equals(before));
    const r = await vscode.commands.executeCommand<SetParentResult>('vdisk.locateParent', vscode.Uri.file(child), other, { ignoreIdMismatch: true });
    assert.strictEqual(r?.idRewritten, true);
  });

  it('Convert writes a standalone image from the Explorer selection, and refuses to replace a file unless forced', async () => {
    const src = at('conv-src.img');
    fs.writeFileSync(src, Buffer.alloc(8 << 20, 0x5a));
    const dest = at('conv-out.vhdx');
    const r = await vscode.commands.executeCommand<ConvertResult>('vdisk.convert', vscode.Uri.file(src), { dest, format: 'vhdx', type: 'dynamic' });
    assert.strictEqual(r?.virtualSize, 8 << 20);
    assert.strictEqual(r?.dataBytes, 8 << 20);
    assert.strictEqual(a.recent.paths[0], dest);
    const shown = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.convert', vscode.Uri.file(src), { dest, format: 'vhdx' }), undefined);
    assert.match((await shown).message, /will not be overwritten/);
  });

  it('Merge writes the child into its parent, removes it, and refuses a parent another image uses', async () => {
    const base = at('m-base.vhdx'), child = at('m-child.avhdx'), other = at('m-other.avhdx');
    await vscode.commands.executeCommand('vdisk.newDisk', { path: base, format: 'vhdx', type: 'dynamic', size: 16 << 20, blockSize: 1 << 20 });
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(base), child);
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(base), other);
    const shown = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.merge', vscode.Uri.file(child), {}), undefined);
    assert.match((await shown).message, /m-other\.avhdx also uses m-base\.vhdx/);
    assert.ok(fs.existsSync(child));
    const r = await vscode.commands.executeCommand<MergeResult>('vdisk.merge', vscode.Uri.file(child), { force: true });
    assert.deepStrictEqual(r?.removed, [child]);
    assert.ok(!fs.existsSync(child));
    assert.ok(!a.recent.paths.includes(child));
  });

  it('Compact releases the blocks of zeros of a dynamic VHDX', async () => {
    const f = at('c.vhdx');
    await vscode.commands.executeCommand('vdisk.newDisk', { path: f, format: 'vhdx', type: 'dynamic', size: 16 << 20, blockSize: 1 << 20 });
    const r = await vscode.commands.executeCommand<CompactResult>('vdisk.compact', vscode.Uri.file(f), { zeroOnly: true });
    assert.strictEqual(r?.image, f);
    assert.strictEqual(r?.dataBytes, 0);
    assert.ok(r!.after <= r!.before);
  });
});
