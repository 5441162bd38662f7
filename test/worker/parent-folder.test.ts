// "Attach Parent Folder...": a differencing disk whose parent moved is attached once the user names the folder that
// now holds it; the parent's identity is still checked, and the child is never changed.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { createDifferencingDisk, inspectImage } from '../../src/formats';
import { WorkerClient } from '../../src/host/worker-client';
import { sha256 } from '../support/worker';
import { deviceSuite, qemuImg, qemuWrite, readDevice, rejectsWith } from './linux-support';

describe('Attach Parent Folder (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  let client: WorkerClient;
  deviceSuite('vdisk-pf-', (d, c) => { dir = d; client = c; }, () => client);

  async function movedChain(): Promise<{ child: string; moved: string }> {
    const a = path.join(dir, 'a'); const b = path.join(dir, 'b');
    fs.mkdirSync(a); fs.mkdirSync(b);
    const parent = path.join(a, 'base.vhd');
    qemuImg(['create', '-q', '-f', 'vpc', '-o', 'force_size=on', parent, '16M']);
    qemuWrite(parent, 'vpc', 0x5a, 1 << 20, 1 << 20);
    const child = path.join(a, 'child.vhd');
    await createDifferencingDisk(parent, child);
    fs.renameSync(parent, path.join(b, 'base.vhd'));
    return { child, moved: b };
  }

  it('finds a moved parent by name in the folder the user names, and attaches the chain read-only', async () => {
    const { child, moved } = await movedChain();
    const before = sha256(child);
    await assert.rejects(client.request(P.Attach, { path: child, readOnly: true, lifetime: 'session' }),
      rejectsWith(P.ErrorCode.ImageProblem, /parent/, 'parent-missing'));
    const disk = await client.request(P.Attach, { path: child, readOnly: true, lifetime: 'session', searchFolders: [moved] });
    assert.deepStrictEqual(disk.chain?.map((c) => c.path), [child, path.join(moved, 'base.vhd')]);
    assert.ok(readDevice(disk.device, 1 << 20, 4096).equals(Buffer.alloc(4096, 0x5a)), 'the parent\'s data reads through the child');
    await client.request(P.Detach, { target: disk.device });
    assert.strictEqual(sha256(child), before, 'the child was not changed');
  });

  it('still checks identity: a different disk of the same name in that folder is a mismatch', async () => {
    const { child } = await movedChain();
    const impostor = path.join(dir, 'c'); fs.mkdirSync(impostor);
    qemuImg(['create', '-q', '-f', 'vpc', '-o', 'force_size=on', path.join(impostor, 'base.vhd'), '16M']);
    const info = await inspectImage(child, { searchFolders: [impostor] });
    assert.deepStrictEqual(info.problems.map((p) => p.code), ['parent-id-mismatch']);
    await assert.rejects(client.request(P.Attach, { path: child, readOnly: true, lifetime: 'session', searchFolders: [impostor] }),
      rejectsWith(P.ErrorCode.ImageProblem, /expects/, 'parent-id-mismatch'));
  });
});
