// vdisk.paths.qemuStorageDaemon, vdisk.paths.vhdimount and vdisk.mountRoot, changed in VS Code, reach the running
// worker through vdisk/configure and change what it does: the wrapper scripts record that they ran, the mount lands
// under the chosen root, and a path that is not a program is named in the error.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import { AttachedDisk, List, VolumeInfo } from '../../src/common/protocol';
import { createDifferencingDisk } from '../../src/formats';

async function api(): Promise<VdiskApi> {
  const ext = vscode.extensions.getExtension<VdiskApi>('vdisk.vdisk');
  assert.ok(ext, 'vdisk.vdisk is not installed');
  return ext.activate();
}

/** Changes one setting and waits until the running worker has answered vdisk/configure for it. */
async function setWorkerSetting(a: VdiskApi, key: string, value: string | undefined): Promise<void> {
  const applied = new Promise<Error | undefined>((resolve) => { const d = a.onDidConfigureWorker((e) => { d.dispose(); resolve(e); }); });
  await vscode.workspace.getConfiguration('vdisk').update(key, value, vscode.ConfigurationTarget.Global);
  assert.strictEqual(await applied, undefined, `vdisk.${key} was not applied`);
}

/** A script that appends its arguments to `log` and runs the real program. */
function wrapper(dir: string, name: string, real: string, log: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec ${real} "$@"\n`, { mode: 0o755 });
  return f;
}

describe('settings reach the worker (vdisk/configure)', function () {
  this.timeout(60_000);
  let a: VdiskApi;
  let tmp: string;

  before(async () => {
    a = await api();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-settings-'));
    await a.client.request(List); // the worker runs: settings changes now go through vdisk/configure
  });

  afterEach(async () => {
    for (const d of (await a.client.request(List)).filter((x) => x.image?.startsWith(tmp))) await vscode.commands.executeCommand('vdisk.detach', d.device);
    for (const k of ['paths.qemuStorageDaemon', 'paths.vhdimount', 'mountRoot']) {
      if (vscode.workspace.getConfiguration('vdisk').inspect(k)?.globalValue !== undefined) await setWorkerSetting(a, k, undefined);
    }
  });

  after(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

  it('vdisk.paths.qemuStorageDaemon: the configured program starts the qemu engine', async () => {
    const log = path.join(tmp, 'qsd.log');
    await setWorkerSetting(a, 'paths.qemuStorageDaemon', wrapper(tmp, 'my-qsd', '/usr/bin/qemu-storage-daemon', log));
    const img = path.join(tmp, 'disk.qcow2');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '16M']);
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(img));
    assert.strictEqual(disks?.[0]?.engine, 'qemu');
    assert.match(fs.readFileSync(log, 'utf8'), /--blockdev .*"driver":"qcow2"/, 'the wrapper ran');
  });

  it('vdisk.paths.qemuStorageDaemon that is not a program: the error names the setting', async () => {
    await setWorkerSetting(a, 'paths.qemuStorageDaemon', path.join(tmp, 'no-such-qsd'));
    const img = path.join(tmp, 'other.qcow2');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '16M']);
    const shown = new Promise<{ message: string }>((resolve) => { const d = a.onDidShowError((e) => { d.dispose(); resolve(e); }); });
    await vscode.commands.executeCommand('vdisk.attachReadOnly', vscode.Uri.file(img));
    assert.match((await shown).message, /no-such-qsd \(setting vdisk\.paths\.qemuStorageDaemon\) is not an executable file/);
  });

  it('vdisk.paths.vhdimount: root\'s differencing disk goes to vdisk\'s own FUSE server, not the configured vhdimount (udisks2 users keep it)', async () => {
    const log = path.join(tmp, 'vhdimount.log');
    await setWorkerSetting(a, 'paths.vhdimount', wrapper(tmp, 'my-vhdimount', '/usr/bin/vhdimount', log));
    const base = path.join(tmp, 'base.vhd');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'force_size=on', base, '16M']);
    const child = path.join(tmp, 'child.vhd');
    await createDifferencingDisk(base, child);
    const disks = await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(child));
    assert.strictEqual(disks?.[0]?.engine, 'vdisk-fuse');
    assert.ok(!fs.existsSync(log), 'the configured vhdimount did not run');
  });

  it('vdisk.mountRoot: volumes are mounted under the configured folder', async () => {
    const root = path.join(tmp, 'mounts');
    await setWorkerSetting(a, 'mountRoot', root);
    const img = path.join(tmp, 'ext4.img');
    cp.execFileSync('truncate', ['-s', '8M', img]);
    cp.execFileSync('mkfs.ext4', ['-q', '-F', img]);
    const [disk] = (await vscode.commands.executeCommand<AttachedDisk[]>('vdisk.attachReadOnly', vscode.Uri.file(img)))!;
    const volumes = await vscode.commands.executeCommand<VolumeInfo[]>('vdisk.mount', disk.device);
    const mp = volumes?.find((v) => v.mountPoint)?.mountPoint;
    assert.ok(mp && mp.startsWith(root + path.sep), `mounted at ${mp}, not under ${root}`);
    assert.ok(fs.readdirSync(mp).includes('lost+found'));
    await vscode.commands.executeCommand('vdisk.unmount', disk.device);
  });
});
