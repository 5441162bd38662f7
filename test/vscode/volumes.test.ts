// An attached disk's volume opened as a workspace folder inside a real VS Code extension host: mounted, read-only
// for the editor, and closed and unmounted by Detach after asking.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { AttachedDisk } from '../../src/common/protocol';
import { api, oursUnder, roots, workspaceDir } from './host';
import { describeLinux } from './platform';

// the same suite title as commands.test.ts: this test was part of it and keeps its full name
describeLinux('commands and tree (extension host)', 'its images are made with truncate, mkfs.ext4 and xorriso and attach as loop devices (Linux only); windows.test.ts covers Windows', function () {
  this.timeout(60_000);
  let a: VdiskApi;
  let dir: string;

  before(async () => {
    a = await api();
    dir = path.join(workspaceDir(), 'host-volume-tests');
    fs.mkdirSync(dir, { recursive: true });
  });

  after(async () => {
    await a.refresher.now();
    for (const d of oursUnder(a, dir)) await vscode.commands.executeCommand('vdisk.detach', d.device, undefined, { confirmed: true });
    fs.rmSync(dir, { recursive: true, force: true });
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
});
