// The capability report in the extension host: applied from the worker's initialize answer, shown as a document, and
// turned into the actions a not-root refusal offers.
import * as assert from 'assert';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import type { VdiskApi } from '../../src/extension';
import * as P from '../../src/common/protocol';
import { actionsFor } from '../../src/host/run-command';
import { pkexecRefusal } from '../../src/host/elevation-launch';
import { USER_ALLOW_OTHER_HOWTO } from '../../src/worker/policy';

async function api(): Promise<VdiskApi> {
  const ext = vscode.extensions.getExtension<VdiskApi>('vdisk.vdisk');
  assert.ok(ext, 'vdisk.vdisk is not installed');
  return ext.activate();
}

describe('capabilities (extension host)', function () {
  this.timeout(60_000);
  // later suites check that activation alone starts no worker: leave none running
  after(async () => { await (await api()).client.stop(); });

  it('takes the worker\'s report from its first answer, with every image kind', async () => {
    const a = await api();
    await a.client.request(P.List);
    const c = a.caps.current;
    assert.ok(c, 'no capability report after the worker started');
    assert.deepStrictEqual(c.kinds.map((k) => k.kind).sort(), ['iso', 'qcow2', 'raw', 'vdi', 'vhd-differencing', 'vhd-dynamic', 'vhd-fixed', 'vhdx', 'vhdx-differencing', 'vmdk']);
    assert.strictEqual(c.platform, process.platform);
    assert.strictEqual(c.kinds.find((k) => k.kind === 'iso')!.readWrite, 'no');
    if (process.platform === 'linux' && process.getuid?.() === 0) assert.strictEqual(c.kinds.find((k) => k.kind === 'vhdx')!.readWrite, 'yes');
  });

  it('Show What This Machine Can Do opens the report as a vdisk-report document', async () => {
    await vscode.commands.executeCommand('vdisk.showCapabilities');
    const doc = vscode.window.activeTextEditor?.document;
    assert.ok(doc, 'no editor opened');
    assert.strictEqual(doc.uri.scheme, 'vdisk-report');
    assert.match(doc.getText(), /^Virtual Disks: what .* can do here/);
    assert.match(doc.getText(), /VHDX \(differencing, AVHDX\)\s+\S/);
    assert.match(doc.getText(), /Elevation:/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('a not-root refusal names the ways out: Retry as Root, Show What\'s Missing, Browse Instead when browsing exists', async () => {
    const a = await api();
    const base = a.caps.current!;
    const withSudo: P.Capabilities = { ...base, platform: 'linux', elevated: false, elevation: [{ route: 'sudo', available: true, detail: 'sudo' }] };
    const err = new ResponseError(P.ErrorCode.PermissionDenied, 'vdisk needs root to attach a VHDX here. Not running as root', { reason: 'not-root', path: '/x/a.vhdx' });
    const ctx = { elevate: async () => undefined, retry: () => undefined, caps: () => withSudo };
    assert.deepStrictEqual(actionsFor(err, ctx, { browse: false }).map((x) => x.title), ['Retry as Root', 'Show What\'s Missing', 'Show Log']);
    assert.deepStrictEqual(actionsFor(err, ctx, { browse: true }).map((x) => x.title), ['Retry as Root', 'Browse Instead', 'Show What\'s Missing', 'Show Log']);
    const noRoute = { ...ctx, caps: () => ({ ...withSudo, elevation: [{ route: 'sudo' as const, available: false, detail: 'not installed' }] }) };
    assert.deepStrictEqual(actionsFor(err, noRoute, { browse: false }).map((x) => x.title), ['Show What\'s Missing', 'Show Log']);
    // without root or elevation, a FUSE-served format refused for want of user_allow_other: the same ways out
    const fuse = new ResponseError(P.ErrorCode.PermissionDenied, `vdisk needs root to attach a qcow2 image here. Not running as root: it needs qemu-storage-daemon plus a loop device. ${USER_ALLOW_OTHER_HOWTO}`,
      { reason: 'not-root', path: '/x/a.qcow2' });
    assert.deepStrictEqual(actionsFor(fuse, ctx, { browse: true }).map((x) => x.title), ['Retry as Root', 'Browse Instead', 'Show What\'s Missing', 'Show Log']);
    // Retry as Root itself refused by polkit: the message names the ways out, the report is one click away
    const refused = new ResponseError(P.ErrorCode.PermissionDenied, pkexecRefusal('Error executing command as another user: Not authorized\n'), { reason: 'elevation-refused' });
    assert.match(refused.message, /polkit rule, or set vdisk\.linux\.elevation to "sudo"/);
    assert.deepStrictEqual(actionsFor(refused, ctx, { browse: true }).map((x) => x.title), ['Show What\'s Missing', 'Show Log']);
    const win = { ...ctx, caps: () => ({ ...withSudo, platform: 'win32' as const, elevation: [{ route: 'uac' as const, available: true, detail: 'UAC' }] }) };
    const needsAdmin = new ResponseError(P.ErrorCode.PermissionDenied, 'Attaching needs administrator rights', { reason: 'needs-elevation', path: 'C:\\\\a.vhdx' });
    assert.strictEqual(actionsFor(needsAdmin, win, { browse: false })[0].title, 'Retry as Administrator');
  });
});
