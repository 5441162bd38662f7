// The read-only vdisk-image: file system and the browse commands inside a real extension host, against the real
// worker (7-Zip in WebAssembly over the block layer). Nothing is attached.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import { describeLinux } from './platform';

const EXT_ID = 'vdisk.vdisk';
const uriOf = (image: string, inner: string) =>
  vscode.Uri.from({ scheme: 'vdisk-image', authority: Buffer.from(image, 'utf8').toString('hex'), path: inner });

describeLinux('browsing an image (extension host, FileSystemProvider)', 'its image is made with mkfs.ext4 -d', function () {
  this.timeout(120_000);
  let dir: string, src: string, image: string;

  before(async () => {
    const ext = vscode.extensions.getExtension<VdiskApi>(EXT_ID);
    assert.ok(ext);
    await ext.activate();
    const ws = vscode.workspace.workspaceFolders?.[0];
    assert.ok(ws);
    dir = path.join(ws.uri.fsPath, 'browse-tests');
    fs.rmSync(dir, { recursive: true, force: true });
    src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(src, 'docs', 'readme.md'), '# inside the image\n');
    fs.writeFileSync(path.join(src, 'data.bin'), Buffer.from([...Array(70_000).keys()].map((i) => (i * 7) & 0xff)));
    fs.symlinkSync('docs/readme.md', path.join(src, 'link.md'));
    const huge = fs.openSync(path.join(src, 'huge.raw'), 'w');
    fs.ftruncateSync(huge, 300 * 1024 * 1024);   // sparse: no blocks in the image, but 300 MiB to readFile
    fs.closeSync(huge);
    image = path.join(dir, 'browse me.img');
    cp.execFileSync('truncate', ['-s', '32M', image]);
    cp.execFileSync('mkfs.ext4', ['-q', '-F', '-d', src, image]);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('lists folders with their types, links as links to what they reach inside the image', async () => {
    const entries = await vscode.workspace.fs.readDirectory(uriOf(image, '/'));
    const byName = new Map(entries);
    assert.strictEqual(byName.get('docs'), vscode.FileType.Directory);
    assert.strictEqual(byName.get('data.bin'), vscode.FileType.File);
    assert.strictEqual(byName.get('link.md'), vscode.FileType.SymbolicLink | vscode.FileType.File);
    assert.ok(byName.has('lost+found'));
  });

  it('stats and reads files (read-only), byte for byte', async () => {
    const st = await vscode.workspace.fs.stat(uriOf(image, '/data.bin'));
    assert.strictEqual(st.size, 70_000);
    assert.strictEqual(st.permissions, vscode.FilePermission.Readonly);
    const data = await vscode.workspace.fs.readFile(uriOf(image, '/data.bin'));
    assert.ok(Buffer.from(data).equals(fs.readFileSync(path.join(src, 'data.bin'))));
    const doc = await vscode.workspace.openTextDocument(uriOf(image, '/link.md'));
    assert.strictEqual(doc.getText(), '# inside the image\n');
  });

  it('answers FileNotFound for a path the image does not hold, and refuses writes', async () => {
    await assert.rejects(Promise.resolve(vscode.workspace.fs.stat(uriOf(image, '/docs/nope.md'))),
      (e: vscode.FileSystemError) => e instanceof vscode.FileSystemError && e.code === 'FileNotFound');
    await assert.rejects(Promise.resolve(vscode.workspace.fs.writeFile(uriOf(image, '/new.txt'), Buffer.from('x'))),
      (e: vscode.FileSystemError) => e instanceof vscode.FileSystemError);
    assert.ok(fs.readFileSync(image).length > 0);
  });

  it('refuses readFile above 256 MiB with a message offering Extract', async () => {
    await assert.rejects(Promise.resolve(vscode.workspace.fs.readFile(uriOf(image, '/huge.raw'))),
      (e: vscode.FileSystemError) => /300 MiB: files over 256 MiB are not opened .*Extract\.\.\./.test(e.message));
  });

  it('Extract... streams a folder to the chosen folder; Copy Path Inside Image copies the inner path', async () => {
    const out = path.join(dir, 'out'); fs.mkdirSync(out);
    const uri = uriOf(image, '/docs');
    await vscode.commands.executeCommand('vdisk.extract', uri, [uri], { folder: out });
    assert.strictEqual(fs.readFileSync(path.join(out, 'docs', 'readme.md'), 'utf8'), '# inside the image\n');
    await vscode.commands.executeCommand('vdisk.copyPathInImage', uriOf(image, '/docs/readme.md'));
    assert.strictEqual(await vscode.env.clipboard.readText(), '/docs/readme.md');
  });

  it('Browse Disk Image opens the image as a read-only workspace folder and badges the image until it is closed', async () => {
    const a = await vscode.extensions.getExtension<VdiskApi>(EXT_ID)!.activate();
    const added = new Promise<void>((resolve) => {
      const d = vscode.workspace.onDidChangeWorkspaceFolders((e) => { if (e.added.length) { d.dispose(); resolve(); } });
    });
    const [uri] = (await vscode.commands.executeCommand<vscode.Uri[]>('vdisk.browse', vscode.Uri.file(image)))!;
    await added;
    const folder = vscode.workspace.workspaceFolders!.find((f) => f.uri.toString() === uri.toString());
    assert.ok(folder, 'the image is a workspace folder');
    assert.strictEqual(folder.name, 'browse me.img (read-only)');
    assert.strictEqual(a.decorations.provideFileDecoration(vscode.Uri.file(image))?.badge, 'B');
    const removed = new Promise<void>((resolve) => {
      const d = vscode.workspace.onDidChangeWorkspaceFolders((e) => { if (e.removed.length) { d.dispose(); resolve(); } });
    });
    assert.ok(vscode.workspace.updateWorkspaceFolders(folder.index, 1));
    await removed;
    assert.strictEqual(a.decorations.provideFileDecoration(vscode.Uri.file(image)), undefined);
  });
});
