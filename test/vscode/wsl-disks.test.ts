// Find WSL and Docker Disks in the extension host: on plain Linux it says there is nothing to find; with the worker
// restarted inside a (fake) WSL, it lists the disks under a fake /mnt/c with their data, and refuses to compact one
// from in there, saying to do it from Windows after `wsl --shutdown`.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { WslDisksResult } from '../../src/common/protocol';

function nextError(a: VdiskApi): Promise<{ command: string; message: string }> {
  return new Promise((resolve) => { const d = a.onDidShowError((e) => { d.dispose(); resolve(e); }); });
}

describe('Find WSL and Docker Disks (extension host)', function () {
  this.timeout(60_000);
  let a: VdiskApi, mnt = '';
  const saved = { mnt: process.env.VDISK_TEST_WSL_MNT, distro: process.env.WSL_DISTRO_NAME };

  before(async () => {
    a = await vscode.extensions.getExtension<VdiskApi>('vdisk.vdisk')!.activate();
    mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-wsl-vscode-'));
    const disk = path.join(mnt, 'c/Users/bob/AppData/Local/Docker/wsl/disk/docker_data.vhdx');
    fs.mkdirSync(path.dirname(disk), { recursive: true });
    const raw = path.join(mnt, 'fs.img');
    fs.writeFileSync(raw, '');
    fs.truncateSync(raw, 32 << 20);
    cp.execFileSync('mkfs.ext4', ['-q', '-F', raw]);
    cp.execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, disk]);
  });

  after(async () => {
    for (const [k, v] of [['VDISK_TEST_WSL_MNT', saved.mnt], ['WSL_DISTRO_NAME', saved.distro]] as const) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
    await vscode.commands.executeCommand('vdisk.restartWorker');
    fs.rmSync(mnt, { recursive: true, force: true });
  });

  it('on Linux outside WSL: nothing to find, and it says where these disks live', async () => {
    const r = await vscode.commands.executeCommand<{ found: WslDisksResult }>('vdisk.findWslDisks', { path: '/nowhere' });
    assert.strictEqual(r?.found.where, 'none');
    assert.deepStrictEqual(r?.found.disks, []);
  });

  it('the "WSL and Docker Disks" section on Linux outside WSL: one line saying where these disks live', async () => {
    const nodes = await a.wsl.getChildren();
    assert.deepStrictEqual(nodes.map((n) => n.kind), ['wslNote']);
    assert.match(String(a.wsl.getTreeItem(nodes[0]).label), /^WSL and Docker Desktop disks live on Windows: run this on Windows or inside WSL\.$/);
  });

  it('inside WSL: finds Docker Desktop\'s disk under /mnt/c and refuses to compact it from in there', async () => {
    process.env.VDISK_TEST_WSL_MNT = mnt; // the restarted worker inherits it
    process.env.WSL_DISTRO_NAME = 'Ubuntu';
    await vscode.commands.executeCommand('vdisk.restartWorker');
    const disk = path.join(mnt, 'c/Users/bob/AppData/Local/Docker/wsl/disk/docker_data.vhdx');
    // (the listing itself, with its data, is checked through the CLI in test/unit/manage/wsl-disks.test.ts)
    const other = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.findWslDisks', { path: path.join(mnt, 'x.vhdx') }), undefined);
    assert.match((await other).message, /x\.vhdx is not one of the WSL or Docker Desktop disks found/);
    const shown = nextError(a);
    const r = await vscode.commands.executeCommand('vdisk.findWslDisks', { path: disk, confirmed: true });
    assert.strictEqual(r, undefined, 'the command failed, as it should');
    assert.match((await shown).message, /Docker Desktop data \(docker_data\.vhdx\) cannot be compacted now: from inside WSL: compact it from Windows after `wsl --shutdown`/);
  });

  it('inside WSL: the "WSL and Docker Disks" section lists the disk with its sizes; its Compact refuses it from in there, Inspect opens its report', async () => {
    // (the worker runs inside the fake WSL since the test above)
    const disk = path.join(mnt, 'c/Users/bob/AppData/Local/Docker/wsl/disk/docker_data.vhdx');
    a.wsl.refresh();
    const nodes = await a.wsl.getChildren();
    assert.deepStrictEqual(nodes.map((n) => n.kind === 'wslDisk' && n.path), [disk]);
    const item = a.wsl.getTreeItem(nodes[0]);
    assert.strictEqual(item.label, 'Docker Desktop data');
    assert.match(String(item.description), /on disk, .* of data \(virtual size 32 MiB\)$/);
    assert.match(String(item.contextValue), /\bvdisk\.wslDisk\b.*\binUse\b/);
    const shown = nextError(a);
    assert.strictEqual(await vscode.commands.executeCommand('vdisk.compactWslDisk', nodes[0]), undefined);
    assert.match((await shown).message, /Docker Desktop data \(docker_data\.vhdx\) cannot be compacted now: from inside WSL/);
    const docs = await vscode.commands.executeCommand<vscode.TextDocument[]>('vdisk.inspect', nodes[0]);
    assert.match(docs![0].getText(), new RegExp(`^Image: .*docker_data\\.vhdx$`, 'm'));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
