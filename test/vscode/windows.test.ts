// Windows only, in VS Code desktop on the windows.yml runner (elevated): attach the VHDX our writer made
// (VDISK_WINDOWS_VHDX), detach it from the Explorer by another spelling of its path, and see the tree refresh by
// itself when another process (the CLI) attaches and detaches it. Never run here: there is no Windows machine.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { AttachedDisk } from '../../src/common/protocol';
import { sameImagePath } from '../../src/common/image-paths';

const VHDX = process.env.VDISK_WINDOWS_VHDX;
const run = process.platform === 'win32' && VHDX ? describe : describe.skip;
const why = process.platform !== 'win32' ? 'Windows only' : 'VDISK_WINDOWS_VHDX is not set (the workflow sets it)';

run(`Windows: attach, Explorer detach, external changes (extension host)${VHDX && process.platform === 'win32' ? '' : ` [skipped: ${why}]`}`, function () {
  this.timeout(120_000);
  let a: VdiskApi;
  const ours = () => a.disks.disks.filter((d) => sameImagePath(d.image, VHDX));
  /** Resolves on the next disksChanged notification the worker sends (no polling of our own). */
  const nextChange = () => new Promise<void>((resolve) => { const f = () => { a.client.off('disksChanged', f); resolve(); }; a.client.on('disksChanged', f); });
  const cli = (...args: string[]) => cp.execFileSync(process.execPath, [path.join(__dirname, '../../../dist/cli.js'), ...args],
    { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, encoding: 'utf8' });

  before(async () => {
    a = await vscode.extensions.getExtension<VdiskApi>('vdisk.vdisk')!.activate();
  });

  after(async () => {
    await a.refresher.now();
    for (const d of ours()) await vscode.commands.executeCommand('vdisk.detach', d.device);
  });

  it('attaches read-only through VirtDisk and detaches from the Explorer with a lower-case drive and folder', async () => {
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(VHDX!));
    assert.strictEqual(disks?.[0]?.engine, 'virtdisk');
    await a.refresher.now();
    assert.strictEqual(ours().length, 1);
    const other = vscode.Uri.file(VHDX!.toLowerCase());
    await vscode.commands.executeCommand('vdisk.detach', other, [other]);
    await a.refresher.now();
    assert.strictEqual(ours().length, 0);
  });

  it('the tree notices a disk attached and detached by another process (the CLI)', async () => {
    await a.refresher.now(); // the worker runs and watches
    const attached = nextChange();
    cli('attach', VHDX!, '--read-only', '--json');
    await attached;
    await a.refresher.now();
    assert.strictEqual(ours().length, 1, 'the externally attached disk is listed');
    const detached = nextChange();
    cli('detach', VHDX!);
    await detached;
    await a.refresher.now();
    assert.strictEqual(ours().length, 0);
  });
});
