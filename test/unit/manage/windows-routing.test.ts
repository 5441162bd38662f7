// On Windows the worker's image-management handlers call the VirtDisk bindings (ImageManagement) instead of our
// writers: checked here with a recording fake backend over an in-memory JSON-RPC connection (no Windows machine here).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough } from 'stream';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, ResponseError } from 'vscode-jsonrpc/node';
import * as P from '../../../src/common/protocol';
import { registerManageHandlers, windowsManager } from '../../../src/worker/manage';
import type { Backend } from '../../../src/worker/backend';
import { createImage } from '../../../src/formats/manage/create';
import { createDifferencingDisk } from '../../../src/formats';
import { tempDir } from '../formats/helpers';

const MiB = 2 ** 20;

describe('manage: Windows routing to VirtDisk', function () {
  const dir = tempDir(this, 'vdisk-winroute-');
  const calls: unknown[][] = [];
  const fake = {
    name: 'windows', list: async () => [], limitations: () => [],
    // stands in for CreateVirtualDisk: the file appears, made by our writer so that inspect can read it
    createDisk: async (p: { path: string; format: 'vhd' | 'vhdx'; type: 'fixed' | 'dynamic'; sizeBytes: number }) => {
      calls.push(['createDisk', p]);
      await createImage({ path: p.path, format: p.format, type: p.type, size: p.sizeBytes });
    },
    setParent: async (...a: unknown[]) => { calls.push(['setParent', ...a]); },
    merge: async (...a: unknown[]) => { calls.push(['merge', ...a]); },
    compact: async (...a: unknown[]) => { calls.push(['compact', ...a]); },
  } as unknown as Backend;

  function connect() {
    const [a, b] = [new PassThrough(), new PassThrough()];
    const server = createMessageConnection(new StreamMessageReader(a), new StreamMessageWriter(b));
    const client = createMessageConnection(new StreamMessageReader(b), new StreamMessageWriter(a));
    registerManageHandlers({
      connection: server, backend: fake, fromFormatError: (e) => e,
      handle: (fn) => async (params, token) => {
        try { return await fn(params as never, token); } catch (e) { return new ResponseError((e as { code?: number }).code ?? 1, (e as Error).message); }
      },
    });
    server.listen(); client.listen();
    return { client, dispose: () => { server.dispose(); client.dispose(); } };
  }

  it('recognises a Windows backend with the bindings, and only that', function () {
    assert.ok(windowsManager(fake));
    assert.strictEqual(windowsManager({ ...fake, name: 'linux' } as Backend), null);
  });

  it('create with a file system is refused on Windows (no mkfs), naming why; an empty GPT is written by our writers', async function () {
    const c = connect();
    try {
      const f = path.join(dir(), 'init.vhdx');
      await assert.rejects(c.client.sendRequest(P.CreateImage, { path: f, format: 'vhdx', type: 'dynamic', size: 64 * MiB, fileSystem: 'ntfs' }),
        (e: Error) => (e as ResponseError<unknown>).code === P.ErrorCode.NotSupported && /mkfs does not exist on Windows/.test(e.message));
      assert.ok(!fs.existsSync(f));
      const r = await c.client.sendRequest(P.CreateImage, { path: f, format: 'vhdx', type: 'dynamic', size: 64 * MiB, init: 'gpt' });
      assert.deepStrictEqual(r.init, { table: 'gpt', partition: null });
      assert.deepStrictEqual(calls, [], 'VirtDisk cannot initialise a disk it has not attached: our writer made it');
    } finally { c.dispose(); }
  });

  it('create, set-parent, merge and a zero-only compact go to VirtDisk with Windows\' parameters', async function () {
    const c = connect();
    try {
      const f = path.join(dir(), 'w.vhdx');
      const r = await c.client.sendRequest(P.CreateImage, { path: f, format: 'vhdx', type: 'dynamic', size: 64 * MiB });
      assert.deepStrictEqual(calls.shift(), ['createDisk', { path: f, format: 'vhdx', type: 'dynamic', sizeBytes: 64 * MiB, blockSizeBytes: 32 * MiB, logicalSectorBytes: 512, physicalSectorBytes: 4096 }]);
      assert.strictEqual(r.size, 64 * MiB);
      const child = path.join(dir(), 'w-child.avhdx');
      await createDifferencingDisk(f, child);
      await c.client.sendRequest(P.SetParent, { child, parent: f, ignoreIdMismatch: true });
      assert.deepStrictEqual(calls.shift(), ['setParent', child, f, true]);
      const m = await c.client.sendRequest(P.Merge, { child, keepChild: true });
      assert.deepStrictEqual(calls.shift(), ['merge', child, 1]);
      assert.deepStrictEqual(m.removed, []);
      await c.client.sendRequest(P.Compact, { path: f, zeroOnly: true });
      assert.deepStrictEqual(calls.shift(), ['compact', f]);
      assert.ok(fs.existsSync(child));
    } finally { c.dispose(); }
  });
});
