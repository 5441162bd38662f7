// Issue 16, "the experience, tried as a new user would", inside a real extension host against the real worker:
// files that lie about their format, protected chains, honest trees and inspectors, badges and summaries.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { AttachedDisk } from '../../src/common/protocol';
import type { DiskTreeNode } from '../../src/views/attached-disks';
import type { ReadyModel } from '../../src/views/inspector/messages';
import { until } from './poll';

type Shown = { command: string; message: string; actions: string[] };

describe('the experience of a new user (extension host)', function () {
  this.timeout(90_000);
  let a: VdiskApi;
  let dir: string;
  const f = (n: string) => path.join(dir, n);
  const ok = { confirmed: true };
  const nextError = (): Promise<Shown> => new Promise((resolve) => { const d = a.onDidShowError((e) => { d.dispose(); resolve(e); }); });
  const nextInfo = (): Promise<string> => new Promise((resolve) => { const d = a.onDidInform((e) => { d.dispose(); resolve(e.message); }); });
  const attachRO = async (file: string, opts?: object) => (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(file), undefined, opts))?.[0];
  const diskNode = async (device: string) => { await a.refresher.now(); return (await a.disks.getChildren()).find((n) => n.kind === 'disk' && n.disk.device === device)!; };
  const detach = (device: string) => vscode.commands.executeCommand('vdisk.detach', device, undefined, ok);

  before(async () => {
    a = await vscode.extensions.getExtension<VdiskApi>('vdisk.vdisk')!.activate();
    dir = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'experience-tests');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(f('bad.vhdx'), 'this is a text file, not a VHDX disk image: 65 bytes of plain text\n');
    fs.writeFileSync(f('zeros.vhd'), Buffer.alloc(1 << 20));
    fs.writeFileSync(f('tiny.img'), Buffer.alloc(100));
    fs.writeFileSync(f('blank.img'), Buffer.alloc(4 << 20));
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'force_size=on', f('base.vhd'), '64M']);
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', f('base.vhdx'), '64M']);
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', f('made-by-qemu.vhd'), '16M']);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await a.refresher.now();
    for (const d of a.disks.disks.filter((x) => x.image?.startsWith(dir + path.sep))) await detach(d.device);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a file whose content does not match its extension, naming both, and offers Attach as Raw Disk', async () => {
    const shown = nextError();
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.attachReadOnly', vscode.Uri.file(f('bad.vhdx'))), undefined);
    const e = await shown;
    assert.match(e.message, /content-does-not-match-extension|named \.vhdx \(VHDX expected\) but its content is raw data/);
    assert.deepStrictEqual(e.actions, ['Attach as Raw Disk...', 'Show Log']);
    await a.refresher.now();
    assert.ok(!a.disks.disks.some((d) => d.image === f('bad.vhdx')), 'nothing attached');
    const tooSmall = nextError();
    await attachRO(f('bad.vhdx'), { asRaw: true, confirmed: true });
    assert.match((await tooSmall).message, /less than one 512-byte sector/, 'a 65-byte file is refused even as raw');
    const tiny = nextError();
    await attachRO(f('tiny.img'));
    assert.match((await tiny).message, /tiny\.img: 100 bytes is less than one 512-byte sector/);
  });

  it('attaches a mis-named raw image only as an explicit raw disk', async () => {
    const shown = nextError();
    await attachRO(f('zeros.vhd'));
    assert.match((await shown).message, /zeros\.vhd is named \.vhd \(VHD expected\)/);
    const disk = await attachRO(f('zeros.vhd'), { asRaw: true, confirmed: true });
    assert.ok(disk, 'attached as raw');
    assert.strictEqual(disk.sizeBytes, 1 << 20);
    await detach(disk.device);
  });

  it('protects a chain: no read-write attach of a parent in use, no child over a read-write parent, and says so', async () => {
    const child = f('child.vhd');
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(f('base.vhd')), child);
    const disk = (await attachRO(child))!;
    // the tree: layers and volumes directly under the disk, in groups since it has both; no engine jargon
    const node = await diskNode(disk.device);
    assert.doesNotMatch(String(a.disks.getTreeItem(node).description), /vhdimount|qemu/);
    const groups = await a.disks.getChildren(node);
    assert.deepStrictEqual(groups.map((g) => a.disks.getTreeItem(g).label), ['Layers', 'Volumes']);
    const [layers, volumes] = await Promise.all(groups.map((g) => a.disks.getChildren(g)));
    assert.deepStrictEqual(layers.map((l) => [a.disks.getTreeItem(l).label, a.disks.getTreeItem(l).description]), [['base.vhd', 'parent · vhd dynamic']]);
    assert.deepStrictEqual(volumes.map((v) => a.disks.getTreeItem(v).label), ['No file system (blank disk)']);
    const refused = nextError();
    await vscode.commands.executeCommand('vdisk.attach', vscode.Uri.file(f('base.vhd')));
    const e = await refused;
    assert.match(e.message, /base\.vhd is in use as the parent of child\.vhd \(attached as \/dev\/loop\d+\)/);
    assert.deepStrictEqual(e.actions, ['Retry Read-Only', 'Show Log']);
    // the inspector of the parent says it too, and offers no read-write attach
    const u = vscode.Uri.file(f('base.vhd'));
    await vscode.commands.executeCommand('vscode.openWith', u, 'vdisk.inspector');
    const m = await until('the parent\'s inspector to show its user', () => {
      const x = a.inspector.lastRendered(u);
      return x?.state === 'ready' && x.facts.some((fa) => fa.label === 'In use') ? x as ReadyModel : undefined;
    });
    assert.match(m.facts.find((x) => x.label === 'In use')!.value, /^as the parent of child\.vhd \(attached as \/dev\/loop\d+\)$/);
    assert.ok(!m.actions.find((x) => x.id === 'attach')!.enabled);
    assert.strictEqual(m.actions.find((x) => x.id === 'attach')!.label, 'Attach Read-Write');
    // read-only is fine, and the tree says whose parent it is
    const baseDisk = (await attachRO(f('base.vhd')))!;
    assert.match(String(a.disks.getTreeItem(await diskNode(baseDisk.device)).description), /· parent of child\.vhd$/);
    await detach(baseDisk.device);
    await detach(disk.device);
    // still the parent of a Recent Image
    assert.ok(a.recent.paths.includes(child));
    const recentRefusal = nextError();
    await vscode.commands.executeCommand('vdisk.attach', u);
    assert.match((await recentRefusal).message, /base\.vhd is the parent of child\.vhd \(in Recent Images\)/);
    await a.recent.remove(child);
    const rw = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attach', u))![0];
    assert.strictEqual(rw.readOnly, false);
    const noChild = nextError();
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.createDiff', u, f('child2.vhd')), undefined);
    assert.match((await noChild).message, /base\.vhd is attached read-write as \/dev\/loop\d+: a differencing child needs a parent that no longer changes/);
    assert.ok(!fs.existsSync(f('child2.vhd')));
    await detach(rw.device);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Recent Images: only an image with a chain (or problems) has an expand arrow', async () => {
    await a.recent.add(f('blank.img'));
    await a.recent.add(f('child.vhd'));
    const rows = await a.recent.getChildren();
    const state = (file: string) => a.recent.getTreeItem(rows.find((r) => r.kind === 'recent' && r.path === file)!).collapsibleState;
    assert.strictEqual(state(f('blank.img')), vscode.TreeItemCollapsibleState.None);
    assert.strictEqual(state(f('child.vhd')), vscode.TreeItemCollapsibleState.Collapsed);
    await a.recent.remove(f('child.vhd'));
  });

  it('a blank disk says so, offers no Mount, and Mount names the image file', async () => {
    const disk = (await attachRO(f('blank.img')))!;
    const node = await diskNode(disk.device);
    const item = a.disks.getTreeItem(node);
    assert.match(String(item.contextValue), /\bnoVolumes\b/);
    assert.doesNotMatch(String(item.contextValue), /\bhasVolumes\b/, 'Mount and Open Volume are hidden');
    const [blank] = await a.disks.getChildren(node);
    assert.strictEqual(a.disks.getTreeItem(blank).label, 'No file system (blank disk)');
    const shown = nextError();
    await vscode.commands.executeCommand('vdisk.mount', disk.device);
    const e = await shown;
    assert.match(e.message, /^blank\.img cannot be mounted: it has no file system/);
    assert.doesNotMatch(e.message, /\/dev\/loop/);
    await detach(disk.device);
  });

  it('badges attached images in the Explorer and sums up a detach of several disks', async () => {
    const one = f('blank.img');
    const two = f('made-by-qemu.vhd');
    assert.strictEqual(a.decorations.provideFileDecoration(vscode.Uri.file(one)), undefined);
    const disks = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(one), [vscode.Uri.file(one), vscode.Uri.file(two)]))!;
    const badge = a.decorations.provideFileDecoration(vscode.Uri.file(one));
    assert.strictEqual(badge?.badge, 'RO');
    assert.match(String(badge?.tooltip), /^Attached read-only as \/dev\/loop\d+$/);
    const summary = nextInfo();
    await vscode.commands.executeCommand('vdisk.detach', vscode.Uri.file(one), [vscode.Uri.file(one), vscode.Uri.file(two)], ok);
    assert.strictEqual(await summary, 'Detached 2 disks: blank.img, made-by-qemu.vhd.');
    assert.strictEqual(disks.length, 2);
    assert.strictEqual(a.decorations.provideFileDecoration(vscode.Uri.file(one)), undefined);
  });

  it('Inspect as Text shows the attach state, the creation date and the creator', async () => {
    const disk = (await attachRO(f('made-by-qemu.vhd')))!;
    const [doc] = (await vscode.commands.executeCommand<vscode.TextDocument[]>('vdisk.inspect', vscode.Uri.file(f('made-by-qemu.vhd'))))!;
    const text = doc.getText();
    assert.match(text, new RegExp(`^Attached: ${disk.device} \\(read-only, session\\)$`, 'm'));
    assert.match(text, /^Created: 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m);
    assert.match(text, /^Creator: qemu \d+\.\d+ \(Wi2k\)$/m);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await detach(disk.device);
  });

  it('the inspector counts a differencing VHDX\'s data blocks and drops a stale "Attached as" after a detach elsewhere', async () => {
    const vhdxChild = f('count.vhdx');
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(f('base.vhdx')), vhdxChild);
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(vhdxChild), 'vdisk.inspector');
    const m = await until('facts', () => { const x = a.inspector.lastRendered(vscode.Uri.file(vhdxChild)); return x?.state === 'ready' ? x : undefined; });
    const allocated = m.facts.find((x) => x.label === 'Allocated')!.value;
    const [, n, size] = /^0 of (\d+) blocks of (\d+) MiB; the others are read from the parent$/.exec(allocated) ?? [];
    assert.ok(n, allocated);
    assert.strictEqual(Number(n) * Number(size), 64, `${allocated}: the blocks cover the 64 MiB disk exactly`);
    // the attach half uses a VHD child (differencing VHDX attaches read-only too, through vdisk's own FUSE server)
    const child = f('count.vhd');
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(f('base.vhd')), child);
    const u = vscode.Uri.file(child);
    await vscode.commands.executeCommand('vscode.openWith', u, 'vdisk.inspector');
    await until('facts', () => { const x = a.inspector.lastRendered(u); return x?.state === 'ready' ? x : undefined; });
    await a.inspector.simulate(u, { type: 'action', action: 'attachReadOnly' });
    const attached = a.inspector.lastRendered(u) as ReadyModel;
    assert.match(attached.status, /^Attached as \/dev\/loop\d+ \(read-only\)\.$/);
    await detach(attached.attachments[0].device);   // from the tree or the palette, not the page
    const after = await until('the page to follow the detach', () => {
      const x = a.inspector.lastRendered(u) as ReadyModel;
      return x.attachments.length === 0 ? x : undefined;
    });
    assert.doesNotMatch(after.status, /Attached as/);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
