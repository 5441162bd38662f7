// Resize refusals leave the file byte-identical; a disk another image reads through is refused unless forced; the
// worker refuses an attached image; Windows goes to ResizeVirtualDisk; the CLI parses sizes. The same suite title as
// resize.test.ts: these tests keep their full names.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import * as P from '../../../src/common/protocol';
import { resizeImage } from '../../../src/formats/manage/resize';
import { createDifferencingDisk } from '../../../src/formats';
import { registerManageHandlers } from '../../../src/worker/manage';
import type { Backend } from '../../../src/worker/backend';
import { cli } from '../../support/worker';
import { resizeArgs } from '../../../src/cli/manage-args';
import { run, tempDir } from '../formats/helpers';
import { MiB, BASE, GROWN, SMALLEST, DATA, make, write, sha } from './resize-helpers';

describe('manage: resize', function () {
  const dir = tempDir(this, 'vdisk-resize-');
  const at = (n: string) => path.join(dir(), n);

  it('refusals leave the file byte-identical: data past the new end, VMDK, VDI, differencing, qcow2 overlay, over 64 TiB, CHS-sized VHD', async function () {
    const cases: [string, () => Promise<void>, number, RegExp][] = [];
    const data = at('data.vhdx');
    cases.push([data, async () => { await make(data, 'vhdx-dynamic'); write(data, 'vhdx-dynamic', ['write -P 1 10M 4K']); }, 8 * MiB, /holds data at offset 10485760, past 8388608 bytes/]);
    const vmdk = at('r.vmdk');
    cases.push([vmdk, async () => { run('qemu-img', ['create', '-q', '-f', 'vmdk', vmdk, '64M']); }, 128 * MiB, /is VMDK: vdisk resizes raw, VHD, VHDX and qcow2 images\. Use vmware-vdiskmanager -x, or convert it/]);
    const vdi = at('r.vdi');
    cases.push([vdi, async () => { run('qemu-img', ['create', '-q', '-f', 'vdi', vdi, '64M']); }, 128 * MiB, /is VDI: .*VBoxManage modifymedium --resize/]);
    const base = at('base.vhdx'), child = at('child.avhdx');
    cases.push([child, async () => { await make(base, 'vhdx-dynamic'); await createDifferencingDisk(base, child); }, 128 * MiB, /is a differencing disk: Windows resizes only fixed and dynamic disks/]);
    const vbase = at('base.vhd'), vchild = at('child.vhd');
    cases.push([vchild, async () => { await make(vbase, 'vhd-dynamic'); await createDifferencingDisk(vbase, vchild); }, 128 * MiB, /is a differencing disk/]);
    const huge = at('huge.vhdx');
    cases.push([huge, async () => { await make(huge, 'vhdx-dynamic'); }, 65 * 2 ** 40, /a VHDX holds at most 64 TiB/]);
    const chs = at('chs.vhd');
    cases.push([chs, async () => { run('qemu-img', ['create', '-q', '-f', 'vpc', chs, '64M']); }, 100 * MiB, /sized by their CHS geometry: 104857600 bytes would read as \d+/]);
    const qov = at('over.qcow2');
    cases.push([qov, async () => { run('qemu-img', ['create', '-q', '-f', 'qcow2', at('qbase.qcow2'), '64M']); run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', at('qbase.qcow2'), '-F', 'qcow2', qov]); }, 128 * MiB, /has a backing file/]);
    for (const [file, setup, size, re] of cases) {
      await setup();
      const keep = sha(file);
      await assert.rejects(resizeImage(file, { size }), re, file);
      assert.strictEqual(sha(file), keep, `${file} byte-identical`);
    }
  });

  it('refuses to resize a disk another image has in its chain (same folder or Recent Images) unless forced', async function () {
    const home = at('with-children'), elsewhere = at('elsewhere');
    fs.mkdirSync(home, { recursive: true }); fs.mkdirSync(elsewhere, { recursive: true });
    const base = path.join(home, 'base.vhdx'), child = path.join(home, 'child.avhdx'), far = path.join(elsewhere, 'far.vhdx');
    await make(base, 'vhdx-dynamic');
    await createDifferencingDisk(base, child);
    const keep = sha(base);
    await assert.rejects(resizeImage(base, { size: 2 * BASE }), /child\.avhdx has base\.vhdx in its chain: a child must keep its parent's size/);
    assert.strictEqual(sha(base), keep, 'refused: byte-identical');
    // a child kept in another folder is found through the images the user has (Recent Images)
    fs.rmSync(child);
    await createDifferencingDisk(base, far);
    await resizeImage(base, { size: BASE, dryRun: true }); // a dry run only computes: it is not refused
    await assert.rejects(resizeImage(base, { size: 2 * BASE, otherImages: [far] }), /far\.vhdx has base\.vhdx in its chain/);
    assert.strictEqual(sha(base), keep);
    const r = await resizeImage(base, { size: 2 * BASE, otherImages: [far], force: true });
    assert.strictEqual(r.after, 2 * BASE, 'forced: resized');
    const c = cli(['resize', base, '--size', String(3 * BASE)]);
    assert.strictEqual(c.code, 0, 'the CLI checks the folder only (far.vhdx is elsewhere)');
    assert.deepStrictEqual(resizeArgs(base, (f) => (f === '--force' ? true : f === '--size' ? '64M' : undefined)), { path: base, size: 64 * MiB, dryRun: false, force: true });
  });

  /** The worker's manage handlers over an in-memory JSON-RPC connection, with `backend`. */
  function connect(backend: Backend) {
    const [a, b] = [new PassThrough(), new PassThrough()];
    const server = createMessageConnection(new StreamMessageReader(a), new StreamMessageWriter(b));
    const client = createMessageConnection(new StreamMessageReader(b), new StreamMessageWriter(a));
    registerManageHandlers({
      connection: server, backend, fromFormatError: (e) => e,
      handle: (fn) => async (params, token) => {
        try { return await fn(params as never, token); } catch (e) { return new ResponseError((e as { code?: number }).code ?? 1, (e as Error).message, (e as { data?: unknown }).data); }
      },
    });
    server.listen(); client.listen();
    return { client, server };
  }

  it('on Windows, VHD/VHDX go to ResizeVirtualDisk with the size (the smallest safe one worked out by vdisk); raw does not', async function () {
    const calls: unknown[][] = [];
    const fake = {
      name: 'windows', list: async () => [], limitations: () => [],
      createDisk: async () => undefined, setParent: async () => undefined,
      // stands in for ResizeVirtualDisk: our writer makes the change so that inspect reads it back
      resize: async (image: string, bytes: number) => { calls.push(['resize', image, bytes]); await resizeImage(image, { size: bytes }); },
    } as unknown as Backend;
    const { client, server } = connect(fake);
    try {
      const f = at('win.vhdx');
      await make(f, 'vhdx-dynamic');
      write(f, 'vhdx-dynamic', DATA);
      const g = await client.sendRequest(P.Resize, { path: f, size: GROWN });
      assert.deepStrictEqual(calls.shift(), ['resize', f, GROWN]);
      assert.strictEqual(g.after, GROWN);
      assert.match(g.notes.join(' '), /ResizeVirtualDisk/);
      const s = await client.sendRequest(P.Resize, { path: f, smallest: true });
      assert.deepStrictEqual(calls.shift(), ['resize', f, SMALLEST]);
      assert.strictEqual(s.after, SMALLEST);
      const keep = sha(f);
      await assert.rejects(client.sendRequest(P.Resize, { path: f, size: 8 * MiB }), /holds data at offset/);
      assert.deepStrictEqual(calls, [], 'an unsafe shrink never reaches Windows');
      assert.strictEqual(sha(f), keep);
      const r = at('win.img');
      await make(r, 'raw');
      await client.sendRequest(P.Resize, { path: r, size: GROWN });
      assert.deepStrictEqual(calls, [], 'raw images are resized by vdisk on Windows too');
      assert.strictEqual(fs.statSync(r).size, GROWN);
    } finally { server.dispose(); client.dispose(); }
  });

  it('the worker refuses an attached image (and its dry run does not need it detached); the CLI parses sizes', async function () {
    const f = at('attached.vhdx');
    await make(f, 'vhdx-dynamic');
    const backend = { name: 'linux', list: async () => [{ device: '/dev/loop99', image: f, readOnly: false, engine: 'loop', lifetime: 'session', ours: true }], limitations: () => [] } as unknown as Backend;
    const { client, server } = connect(backend);
    try {
      const keep = sha(f);
      await assert.rejects(client.sendRequest(P.Resize, { path: f, size: 128 * MiB }), (e: ResponseError<unknown>) => e.code === P.ErrorCode.Busy && /in use by the attached disk \/dev\/loop99: detach it first/.test(e.message));
      assert.strictEqual(sha(f), keep);
      const dry = await client.sendRequest(P.Resize, { path: f, smallest: true, dryRun: true });
      assert.strictEqual(dry.after, MiB);
      await assert.rejects(client.sendRequest(P.Resize, { path: f }), /needs a new size/);
    } finally { server.dispose(); client.dispose(); }

    const c = at('cli.img');
    await make(c, 'raw');
    const r = cli(['resize', c, '--size', '1G', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual((r.json as P.ResizeResult).after, 2 ** 30);
    assert.strictEqual(fs.statSync(c).size, 2 ** 30);
    const both = cli(['resize', c, '--size', '1G', '--smallest']);
    assert.strictEqual(both.code, 1);
    assert.match(both.stderr, /--size SIZE or --smallest/);
    const small = cli(['resize', c, '--smallest']);
    assert.strictEqual(small.code, 0, small.stderr);
    assert.match(small.stdout, /1 GiB -> 1 MiB \(1048576 bytes/);
    assert.match(cli(['resize', c, '--size', '12Q']).stderr, /is not a size/);
  });
});
