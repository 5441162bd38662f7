// Commands and the Attached Disks tree, inside a real VS Code extension host, against the real worker.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { DiskTreeNode } from '../../src/views/attached-disks';
import type { AttachedDisk } from '../../src/common/protocol';
import { describeLinux } from './platform';

const EXT_ID = 'vdisk.vdisk';

async function api(): Promise<VdiskApi> {
  const ext = vscode.extensions.getExtension<VdiskApi>(EXT_ID);
  assert.ok(ext, `${EXT_ID} is not installed`);
  return ext.activate();
}

function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'the test workspace has a folder');
  return f.uri.fsPath;
}

async function roots(a: VdiskApi): Promise<DiskTreeNode[]> {
  await a.refresher.now();
  return a.disks.getChildren();
}

function oursUnder(a: VdiskApi, dir: string): AttachedDisk[] {
  return a.disks.disks.filter((d) => d.image?.startsWith(dir + path.sep));
}

function nextError(a: VdiskApi): Promise<{ command: string; message: string; actions: string[] }> {
  return new Promise((resolve) => { const d = a.onDidShowError((e) => { d.dispose(); resolve(e); }); });
}

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

  it('refreshes once for a burst of changes, and only marks a hidden view stale', async () => {
    const { Refresher } = await import('../../src/views/refresher');
    let visible = false;
    let reloads = 0;
    const shown = new vscode.EventEmitter<void>();
    // a hand-stepped debounce timer: what is pending is inspected and fired by the test, no sleeping
    const pending = new Map<NodeJS.Timeout, () => void>();
    let n = 0;
    const timers = {
      set: (fn: () => void, ms: number) => { assert.strictEqual(ms, 30); const t = n++ as unknown as NodeJS.Timeout; pending.set(t, fn); return t; },
      clear: (t: NodeJS.Timeout | undefined) => { if (t !== undefined) pending.delete(t); },
    };
    const fire = async () => { const fns = [...pending.values()]; pending.clear(); for (const f of fns) f(); await r.now(); };
    const r = new Refresher(async () => { reloads++; }, () => visible, shown.event, 30, timers);
    try {
      r.request(); r.request();
      assert.strictEqual(pending.size, 0, 'hidden: nothing scheduled');
      assert.strictEqual(reloads, 0, 'hidden: no reload');
      visible = true; shown.fire();
      assert.strictEqual(pending.size, 1, 'shown again: one reload scheduled for the stale state');
      const f = [...pending.values()][0]; pending.clear(); f();
      await r.now(); // joins the reload the timer started, then reloads once more
      assert.strictEqual(reloads, 2);
      for (let i = 0; i < 10; i++) r.request();
      assert.strictEqual(pending.size, 1, 'a burst of requests: one pending reload');
      await fire();
      assert.strictEqual(reloads, 4, 'the burst reloaded once (plus the explicit now())');
      shown.fire();
      assert.strictEqual(pending.size, 0, 'shown while not stale: nothing to do');
    } finally { r.dispose(); shown.dispose(); }
  });

  it('the refresher takes the worker\'s events with their reasons, keeps the status bar current while hidden, and reloads for an interest', async () => {
    const { Refresher } = await import('../../src/views/refresher');
    const { EventEmitter } = await import('events');
    const events = new EventEmitter();
    let reloads = 0, lists = 0;
    const shown: AttachedDisk[][] = [];
    const one = { device: '/dev/loop9', image: '/x.img', readOnly: true, engine: 'loop', lifetime: 'session', ours: true } as AttachedDisk;
    // hand-stepped timers: what is pending is fired by the test, no sleeping
    const pending = new Map<NodeJS.Timeout, { fn: () => void; ms: number }>();
    let n = 0;
    const timers = {
      set: (fn: () => void, ms: number) => { const t = n++ as unknown as NodeJS.Timeout; pending.set(t, { fn, ms }); return t; },
      clear: (t: NodeJS.Timeout | undefined) => { if (t !== undefined) pending.delete(t); },
    };
    let listed: () => void = () => undefined;
    const fire = () => { const all = [...pending.values()]; pending.clear(); for (const p of all) p.fn(); };
    const r = new Refresher(async () => { reloads++; return { disks: [one] }; }, () => false, new vscode.EventEmitter<void>().event, 30, timers,
      { events, list: async () => { lists++; listed(); return [one]; }, status: { update: (d) => shown.push(d) } });
    try {
      events.emit('disksChanged', { reason: 'external' }); events.emit('disksChanged', { reason: 'attach' });
      assert.deepStrictEqual([...pending.values()].map((p) => p.ms), [30], 'a burst: one refresh pending');
      const statusShown = new Promise<void>((res) => { listed = res; });
      fire();
      await statusShown;
      await r.now('command').then(() => undefined); // reloads once; settles the listing above first
      assert.deepStrictEqual([lists, r.lastReason], [1, 'command']);
      assert.ok(shown.length >= 1, 'hidden: the status bar got the listing');
      const before = { reloads, lists };
      events.emit('crash', { restartable: true });
      fire();
      assert.deepStrictEqual([reloads, lists, r.lastReason], [before.reloads, before.lists, 'worker-crashed'], 'a crash does not start a worker for a hidden view');
      const interest = r.holdInterest();
      assert.strictEqual(reloads, before.reloads + 1, 'an interest reloads at once');
      await r.now('command');
      events.emit('disksChanged', { reason: 'detach' });
      const reloaded = reloads;
      fire();
      assert.deepStrictEqual([reloads, r.lastReason], [reloaded + 1, 'detach'], 'while held, a change reloads even with the tree hidden');
      interest.dispose();
      let fired = 0;
      for (let i = 0; i < 5; i++) r.filesChanged('a', () => fired++);
      r.filesChanged('b', () => fired++);
      assert.deepStrictEqual([...pending.values()].map((p) => p.ms), [250, 250], 'one pending file refresh per owner');
      fire();
      assert.strictEqual(fired, 2);
    } finally { r.dispose(); }
  });

  it('mounts a volume, opens it as a workspace folder, and detach closes and unmounts it', async () => {
    const content = path.join(dir, 'content'); fs.mkdirSync(content, { recursive: true });
    fs.writeFileSync(path.join(content, 'hello.txt'), 'from inside the image');
    const img = path.join(dir, 'volume.img');
    cp.execFileSync('truncate', ['-s', '8M', img]);
    cp.execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'HOSTVOL', '-d', content, img]);
    const [disk] = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(img)))!;
    const node = (await roots(a)).find((n) => n.kind === 'disk' && n.disk.device === disk.device)!;
    const volumeNode = (await a.disks.getChildren(node)).find((n) => n.kind === 'volume');
    assert.ok(volumeNode, 'the disk shows its ext4 volume');
    assert.match(String(a.disks.getTreeItem(volumeNode).description), /^ext4 · 8 MiB · not mounted$/);
    const mountPoint = await vscode.commands.executeCommand<string>('vdisk.openVolume', volumeNode);
    assert.ok(mountPoint && fs.readFileSync(path.join(mountPoint, 'hello.txt'), 'utf8') === 'from inside the image');
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.fsPath === mountPoint);
    assert.ok(folder, 'added as a workspace folder');
    // a read-only volume is read-only for the editor too, not only for the kernel
    assert.strictEqual(folder.uri.scheme, 'vdisk-volume');
    assert.strictEqual(vscode.workspace.fs.isWritableFileSystem('vdisk-volume'), false);
    const fileUri = vscode.Uri.joinPath(folder.uri, 'hello.txt');
    const editor = await vscode.window.showTextDocument(fileUri);
    assert.strictEqual(editor.document.getText(), 'from inside the image');
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(fileUri, Buffer.from('changed'))), /NoPermissions|permission/i);
    const tabOpen = () => vscode.window.tabGroups.all.some((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === fileUri.toString()));
    assert.ok(tabOpen());
    const mounted = (await a.disks.getChildren((await roots(a)).find((n) => n.kind === 'disk' && n.disk.device === disk.device)!)).find((n) => n.kind === 'volume')!;
    assert.match(String(a.disks.getTreeItem(mounted).description), /mounted at /);
    const asked = new Promise<{ message: string; detail: string }>((resolve) => { const d = a.onDidAsk((q) => { d.dispose(); resolve(q); }); });
    await vscode.commands.executeCommand('vdisk.detach', disk.device);
    assert.deepStrictEqual(await asked, { message: 'Detach volume.img?', detail: '1 volume is open in this window. 1 editor on files of that volume will be closed. Programs using these disks lose them.', confirm: 'Detach' });
    assert.ok(vscode.workspace.workspaceFolders?.some((f) => f.uri.fsPath === mountPoint), 'not confirmed: the folder stays');
    await vscode.commands.executeCommand('vdisk.detach', disk.device, undefined, { confirmed: true });
    assert.ok(!vscode.workspace.workspaceFolders?.some((f) => f.uri.fsPath === mountPoint), 'the folder is gone from the workspace');
    assert.ok(!tabOpen(), 'the editor of a file on the detached volume is closed');
    assert.ok(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(mountPoint), 'unmounted');
    assert.ok(!fs.existsSync(`/sys/block/${path.basename(disk.device)}/loop/backing_file`), 'detached');
  });

  it('offers "Attach Parent Folder..." when a parent moved, and attaches with the folder it names', async () => {
    const a1 = path.join(dir, 'pf-a'); const b1 = path.join(dir, 'pf-b');
    fs.mkdirSync(a1, { recursive: true }); fs.mkdirSync(b1, { recursive: true });
    const parent = path.join(a1, 'pbase.vhdx');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', parent, '16M']);
    const child = path.join(a1, 'pchild.vhdx');
    await vscode.commands.executeCommand('vdisk.createDiff', vscode.Uri.file(parent), child);
    fs.renameSync(parent, path.join(b1, 'pbase.vhdx'));
    const shown = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.attachReadOnly', vscode.Uri.file(child)), undefined);
    const e = await shown;
    assert.match(e.message, /parent/i);
    assert.deepStrictEqual(e.actions, ['Attach Parent Folder...', 'Show Log']);
    // what the action runs once the user picked the folder
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(child), undefined, { searchFolders: [b1] });
    assert.deepStrictEqual(disks?.[0].chain?.map((c) => path.basename(c.path)), ['pchild.vhdx', 'pbase.vhdx']);
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
