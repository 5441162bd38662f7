// Commands and the Attached Disks tree, inside a real VS Code extension host, against the real worker: attach and
// detach from the Explorer and the tree, errors, the worker's restarts, the other tree and chain commands.
// The refresher: refresher.test.ts; volumes opened as workspace folders: volumes.test.ts.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { DiskTreeNode } from '../../src/views/attached-disks';
import type { AttachedDisk } from '../../src/common/protocol';
import { api, nextError, oursUnder, roots, workspaceDir } from './host';
import { describeLinux } from './platform';

describeLinux('commands and tree (extension host)', 'its images are made with truncate, mkfs.ext4 and xorriso and attach as loop devices (Linux only); windows.test.ts covers Windows', function () {
  this.timeout(60_000);
  let a: VdiskApi;
  let dir: string;
  let raw: string;
  let iso: string;

  before(async () => {
    a = await api();
    dir = path.join(workspaceDir(), 'host-tests');
    fs.mkdirSync(dir, { recursive: true });
    raw = path.join(dir, 'tree disk.img');
    cp.execFileSync('truncate', ['-s', '8M', raw]);
    cp.execFileSync('mkfs.ext4', ['-q', '-F', raw]);
    const src = path.join(dir, 'iso-src'); fs.mkdirSync(src, { recursive: true }); fs.writeFileSync(path.join(src, 'readme.txt'), 'hi');
    iso = path.join(dir, 'cd.iso');
    cp.execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'HOSTTEST', '-o', iso, src], { stdio: 'ignore' });
  });

  after(async () => {
    await a.refresher.now();
    for (const d of oursUnder(a, dir)) await vscode.commands.executeCommand('vdisk.detach', d.device, undefined, { confirmed: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('attaches read-only from an Explorer-style Uri and shows the disk in the tree', async () => {
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(raw));
    assert.strictEqual(disks?.length, 1);
    const disk = disks[0];
    assert.deepStrictEqual([disk.image, disk.readOnly, disk.lifetime, disk.ours], [raw, true, 'session', true]);
    const node = (await roots(a)).find((n) => n.kind === 'disk' && n.disk.device === disk.device);
    assert.ok(node, 'the tree lists the new disk');
    const item = a.disks.getTreeItem(node);
    assert.strictEqual(item.label, 'tree disk.img');
    assert.strictEqual(item.description, `${disk.device} · read-only · session`);
    assert.match(String(item.contextValue), /\bvdisk\.disk\b.*\bours\b.*\bhasImage\b/);
    assert.strictEqual(item.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
  });

  it('expands a disk straight to its volumes (no row repeating the image), with stable ids and getParent', async () => {
    const node = (await roots(a)).find((n) => n.kind === 'disk' && n.disk.image === raw)!;
    const children = await a.disks.getChildren(node);
    assert.deepStrictEqual(children.map((c) => c.kind), ['volume'], 'a raw disk has no parents: only its volume');
    const [image] = children;
    assert.strictEqual(a.disks.getParent(image), node);
    assert.strictEqual(a.disks.getParent(node), undefined);
    const again = (await roots(a)).find((n) => n.kind === 'disk' && n.disk.image === raw)!;
    assert.strictEqual(again.id, node.id, 'ids survive a refresh (expansion and selection are kept)');
    await a.disksView.reveal(again, { select: true, focus: false, expand: true });
    assert.ok(a.disksView.visible);
    assert.deepStrictEqual(a.disksView.selection.map((n) => (n as DiskTreeNode).id), [again.id]);
  });

  it('detaches from a tree node and the tree forgets it', async () => {
    const node = (await roots(a)).find((n) => n.kind === 'disk' && n.disk.image === raw)!;
    const r = await vscode.commands.executeCommand<{ device: string }[]>('vdisk.detach', node);
    assert.strictEqual(r?.[0].device, (node as { disk: AttachedDisk }).disk.device);
    assert.ok(!(await roots(a)).some((n) => n.kind === 'disk' && n.disk.image === raw));
  });

  it('attaches a multi-selection and detaches it from the Explorer selection', async () => {
    const second = path.join(dir, 'second.img');
    fs.writeFileSync(second, Buffer.alloc(1 << 20));
    const uris = [vscode.Uri.file(raw), vscode.Uri.file(second)];
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', uris[0], uris);
    assert.deepStrictEqual(disks?.map((d) => d.image), [raw, second]);
    assert.strictEqual(oursUnder(a, dir).length, 2);
    const asked = new Promise<{ message: string }>((resolve) => { const d = a.onDidAsk((q) => { d.dispose(); resolve(q); }); });
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.detach', uris[0], uris), undefined, 'not confirmed: nothing detached');
    assert.strictEqual((await asked).message, 'Detach 2 disks?');
    assert.strictEqual(oursUnder(a, dir).length, 2);
    const r = await vscode.commands.executeCommand<{ device: string }[]>('vdisk.detach', uris[0], uris, { confirmed: true });
    assert.strictEqual(r?.length, 2);
    assert.strictEqual(oursUnder(a, dir).length, 0);
  });

  it('a refused attach shows one specific error with its actions and leaves nothing attached', async () => {
    const shown = nextError(a);
    const r = await vscode.commands.executeCommand('vdisk.attach', vscode.Uri.file(iso));
    assert.strictEqual(r, undefined);
    const e = await shown;
    assert.strictEqual(e.command, 'vdisk.attach');
    assert.match(e.message, /ISO images can only be attached read-only/);
    assert.deepStrictEqual(e.actions, ['Retry Read-Only', 'Show Log']);
    await a.refresher.now();
    assert.strictEqual(oursUnder(a, dir).length, 0);
  });

  it('a missing file is reported by name', async () => {
    const shown = nextError(a);
    await vscode.commands.executeCommand('vdisk.attachReadOnly', vscode.Uri.file(path.join(dir, 'gone.vhdx')));
    assert.match((await shown).message, /gone\.vhdx does not exist/);
  });

  it('survives a worker crash: the next action starts a new worker', async () => {
    await roots(a);
    const pid = a.client.pid!;
    assert.ok(pid);
    const crashed = new Promise((r) => a.client.once('crash', r));
    process.kill(pid, 'SIGKILL');
    await crashed;
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(raw));
    assert.strictEqual(disks?.length, 1);
    assert.notStrictEqual(a.client.pid, pid);
    await vscode.commands.executeCommand('vdisk.detach', disks[0].device);
  });

  it('Restart Worker starts a fresh worker', async () => {
    await roots(a);
    const pid = a.client.pid;
    await vscode.commands.executeCommand('vdisk.restartWorker');
    assert.strictEqual(a.client.state, 'running');
    assert.notStrictEqual(a.client.pid, pid);
  });

  it('Inspect Disk Image opens a read-only vdisk-report document', async () => {
    const docs = await vscode.commands.executeCommand<vscode.TextDocument[]>('vdisk.inspect', vscode.Uri.file(iso));
    const doc = docs![0];
    assert.strictEqual(doc.uri.scheme, 'vdisk-report');
    assert.strictEqual(doc.languageId, 'vdisk-report');
    assert.match(doc.getText(), /^Image: .*cd\.iso$/m);
    assert.match(doc.getText(), /^Format: iso$/m);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('Copy Device Path and Reveal Image act on a tree node', async () => {
    const [disk] = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(raw)))!;
    const node = (await roots(a)).find((n) => n.kind === 'disk' && n.disk.device === disk.device)!;
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.copyDevicePath', node), disk.device);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.revealImage', node), raw, 'reveals the image of that disk in the Explorer');
    // a disk without an image file: a clear error instead of a silent no-op
    const shown = nextError(a);
    const diskNode = node as Extract<DiskTreeNode, { kind: 'disk' }>;
    await vscode.commands.executeCommand('vdisk.revealImage', { ...diskNode, disk: { ...diskNode.disk, image: undefined } });
    assert.match((await shown).message, /no image file to reveal/);
    await vscode.commands.executeCommand('vdisk.detach', node);
  });

  it('Create Differencing Disk writes a child whose chain names the parent; Show Dependency Chain lists it', async () => {
    const base = path.join(dir, 'base.vhdx');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', base, '16M']);
    const child = path.join(dir, 'scratch.vhdx');
    const r = await vscode.commands.executeCommand<{ child: string; format: string }>('vdisk.createDiff', vscode.Uri.file(base), child);
    assert.deepStrictEqual(r, { child, format: 'vhdx' });
    const chain = await vscode.commands.executeCommand<string[]>('vdisk.showChain', vscode.Uri.file(child));
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    assert.deepStrictEqual(chain, [child, base]);
    const shown = nextError(a);
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(base), child);
    assert.match((await shown).message, /exists/i, 'an existing file is never overwritten');
  });

  it('the status bar counts the attached disks', async () => {
    const [disk] = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(raw)))!;
    assert.strictEqual(a.status.text, `$(database) ${a.disks.disks.length}`);
    await vscode.commands.executeCommand('vdisk.detach', disk.device);
  });

  it('Recent Images lists attached and inspected images, with their chains, and forgets on request', async () => {
    await a.recent.clear();
    const [disk] = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(raw)))!;
    await vscode.commands.executeCommand('vdisk.detach', disk.device);
    await vscode.commands.executeCommand('vdisk.inspect', vscode.Uri.file(iso));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    assert.deepStrictEqual(a.recent.paths, [iso, raw], 'most recent first');
    const base = path.join(dir, 'base.vhdx');
    const child = path.join(dir, 'scratch.vhdx');
    await a.recent.add(child);
    const [top] = await a.recent.getChildren();
    assert.strictEqual(a.recent.getTreeItem(top).label, 'scratch.vhdx');
    assert.strictEqual(a.recent.getTreeItem(top).description, 'host-tests');
    const links = await a.recent.getChildren(top);
    assert.strictEqual(links.length, 1);
    assert.strictEqual(links[0].kind === 'recentLink' && links[0].link.path, base);
    assert.strictEqual(a.recent.getParent(links[0]), top);
    await vscode.commands.executeCommand('vdisk.forgetRecent', top);
    assert.deepStrictEqual(a.recent.paths, [iso, raw]);
    await vscode.commands.executeCommand('vdisk.clearRecent');
    assert.deepStrictEqual(a.recent.paths, []);
  });

  it('honours vdisk.lifetime and vdisk.defaultAccess', async () => {
    const cfg = vscode.workspace.getConfiguration('vdisk');
    await cfg.update('lifetime', 'permanent', vscode.ConfigurationTarget.Global);
    await cfg.update('defaultAccess', 'readWrite', vscode.ConfigurationTarget.Global);
    try {
      const [disk] = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachDefault', vscode.Uri.file(raw)))!;
      assert.deepStrictEqual([disk.lifetime, disk.readOnly], ['permanent', false]);
      await vscode.commands.executeCommand('vdisk.detach', disk.device);
    } finally {
      await cfg.update('lifetime', undefined, vscode.ConfigurationTarget.Global);
      await cfg.update('defaultAccess', undefined, vscode.ConfigurationTarget.Global);
    }
    const [d2] = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachDefault', vscode.Uri.file(raw)))!;
    assert.deepStrictEqual([d2.lifetime, d2.readOnly], ['session', true], 'defaults: session, read-only');
    await vscode.commands.executeCommand('vdisk.detach', d2.device);
  });

  it('offers "Attach Parent Folder..." when a parent moved, and attaches with the folder it names', async () => {
    const a1 = path.join(dir, 'pf-a'); const b1 = path.join(dir, 'pf-b');
    fs.mkdirSync(a1, { recursive: true }); fs.mkdirSync(b1, { recursive: true });
    const parent = path.join(a1, 'pbase.vhd');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'force_size=on', parent, '16M']);
    const child = path.join(a1, 'pchild.vhd');
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(parent), child);
    fs.renameSync(parent, path.join(b1, 'pbase.vhd'));
    const shown = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.attachReadOnly', vscode.Uri.file(child)), undefined);
    const e = await shown;
    assert.match(e.message, /parent/i);
    assert.deepStrictEqual(e.actions, ['Attach Parent Folder...', 'Show Log']);
    // what the action runs once the user picked the folder
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(child), undefined, { searchFolders: [b1] });
    assert.deepStrictEqual(disks?.[0].chain?.map((c) => path.basename(c.path)), ['pchild.vhd', 'pbase.vhd']);
    await vscode.commands.executeCommand('vdisk.detach', disks![0].device);
  });

  // Only ever cancelled here: the test machine is shared, and confirming would detach other runs' disks too.
  it('Detach Every Disk Image... asks first, and Cancel leaves every disk attached', async () => {
    const second = path.join(dir, 'second.img');
    await vscode.commands.executeCommand('vdisk.attachReadOnly', vscode.Uri.file(raw), [vscode.Uri.file(raw), vscode.Uri.file(second)]);
    assert.strictEqual(oursUnder(a, dir).length, 2);
    const asked = new Promise<{ message: string }>((resolve) => { const d = a.onDidAsk((q) => { d.dispose(); resolve(q); }); });
    await vscode.commands.executeCommand('vdisk.detachAll');
    assert.match((await asked).message, /^Detach \d+ disks\?$/);
    assert.strictEqual(oursUnder(a, dir).length, 2, 'not confirmed: nothing detached');
    await vscode.commands.executeCommand('vdisk.detach', vscode.Uri.file(raw), [vscode.Uri.file(raw), vscode.Uri.file(second)], { confirmed: true });
    assert.strictEqual(oursUnder(a, dir).length, 0);
  });
});
