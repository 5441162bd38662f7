// The Windows backend over the recording fake api: raw images refused pointing at Browse (before any VirtDisk
// call), and the change watcher's cheap signature (disks coming and going, drive letters), with a fake backend.
import * as assert from 'assert';
import { CancellationTokenSource } from 'vscode-jsonrpc';
import { ErrorCode } from '../../../src/common/protocol';
import type { ImageInfo } from '../../../src/common/image';
import type { Backend } from '../../../src/worker/backend';
import { WorkerError } from '../../../src/worker/errors';
import { ExternalChangeWatcher } from '../../../src/worker/watch';
import { createWindowsBackend } from '../../../src/worker/windows/backend';
import { FakeApi } from './fake-api';

const image = (format: ImageInfo['format'], p: string) => ({ path: p, format, virtualSize: 1 << 20 } as ImageInfo);

function multiSz(paths: string[]): Buffer {
  return Buffer.from(paths.map((p) => `${p}\0`).join('') + '\0', 'utf16le');
}

describe('Windows backend', () => {
  it('refuses a raw .img with NotSupported naming "Browse Disk Image", without calling VirtDisk', async () => {
    const f = new FakeApi();
    const b = createWindowsBackend(() => undefined, () => f.virtDisk());
    const token = new CancellationTokenSource().token;
    let err: unknown;
    try { await b.attach({ path: 'C:\\disks\\pi.img', readOnly: true, lifetime: 'session' }, image('raw', 'C:\\disks\\pi.img'), token); } catch (e) { err = e; }
    assert.ok(err instanceof WorkerError, String(err));
    assert.strictEqual(err.code, ErrorCode.NotSupported);
    assert.strictEqual(err.data.reason, 'raw-not-attachable-on-windows');
    assert.match(err.message, /pi\.img is a raw disk image: .*"Browse Disk Image"/);
    try { await b.attach({ path: 'C:\\q.qcow2', readOnly: true, lifetime: 'session' }, image('qcow2', 'C:\\q.qcow2'), token); } catch (e) { err = e; }
    assert.strictEqual((err as WorkerError).code, ErrorCode.UnsupportedImage);
    assert.strictEqual(f.calls.length, 0);
  });

  it('changeSignature: every tool\'s attached images (one call) and the drive letters; case-only differences are no change', async () => {
    let attached = ['C:\\VMs\\a.vhdx'];
    let drives = 0b1100;
    const f = new FakeApi({
      GetAllAttachedVirtualDiskPhysicalPaths: (size, buf) => {
        const b = multiSz(attached);
        if (!buf || size[0] < b.length) { size[0] = b.length; return 122; }
        b.copy(buf); size[0] = b.length; return 0;
      },
      GetLogicalDrives: () => drives,
    });
    const b = createWindowsBackend(() => undefined, () => f.virtDisk()) as Backend;
    const s1 = await b.changeSignature!();
    attached = ['c:\\vms\\A.VHDX'];
    assert.strictEqual(await b.changeSignature!(), s1);
    attached = ['C:\\VMs\\a.vhdx', 'D:\\iso\\x.iso'];
    const s2 = await b.changeSignature!();
    assert.notStrictEqual(s2, s1);
    drives |= 0b10000; // the new disk's volume got E:
    assert.notStrictEqual(await b.changeSignature!(), s2);
    assert.deepStrictEqual([...new Set(f.sequence())].sort(), ['GetAllAttachedVirtualDiskPhysicalPaths', 'GetLogicalDrives'],
      'no image is opened to compute it');
  });

  it('the watcher reports a change of signature once, not our own changes, and survives a failing poll', async () => {
    let sig = 'a';
    let fail = false;
    let listed = 0;
    const backend = {
      changeSignature: async () => { if (fail) throw new Error('VirtDisk gone'); return sig; },
      list: async () => { listed++; return []; },
    } as unknown as Backend;
    let changes = 0;
    const w = new ExternalChangeWatcher(backend, () => changes++, 3_600_000);
    try {
      await w.tick();
      assert.strictEqual(changes, 0, 'the first poll only learns the state');
      sig = 'b';
      await w.tick();
      assert.strictEqual(changes, 1);
      await w.tick();
      assert.strictEqual(changes, 1, 'no change, no event');
      sig = 'c';
      w.reset(); // our own attach: learnt silently
      await w.tick();
      assert.strictEqual(changes, 1);
      fail = true;
      await w.tick();
      fail = false;
      sig = 'd';
      await w.tick();
      assert.strictEqual(changes, 2);
      assert.strictEqual(listed, 0, 'list() is not polled when the backend has a signature');
    } finally { w.dispose(); }
  });

  it('the watcher falls back to list() for backends without a signature', async () => {
    let disks = [{ device: '/dev/loop0', image: '/a.img', readOnly: true, lifetime: 'session' }];
    const backend = { list: async () => disks } as unknown as Backend;
    let changes = 0;
    const w = new ExternalChangeWatcher(backend, () => changes++, 3_600_000);
    try {
      await w.tick();
      disks = [];
      await w.tick();
      assert.strictEqual(changes, 1);
    } finally { w.dispose(); }
  });
});

describe('Windows backend: detach by another spelling of the image path', () => {
  it('a session disk attached as C:\\VMs\\A.vhdx detaches when Explorer sends c:\\vms\\a.VHDX (its held handle, no reopen)', async () => {
    const src = new CancellationTokenSource();
    const f = new FakeApi({
      GetVirtualDiskPhysicalPath: (_h, size, buf) => { const b = Buffer.from('\\\\.\\PhysicalDrive7\0', 'utf16le'); b.copy(buf); size[0] = b.length; return 0; },
      // no volume yet: the attach stops waiting for them once cancelled
      FindFirstVolumeW: () => { src.cancel(); return null as never; },
    });
    const b = createWindowsBackend(() => undefined, () => f.virtDisk());
    const disk = await b.attach({ path: 'C:\\VMs\\A.vhdx', readOnly: false, lifetime: 'session' }, image('vhdx', 'C:\\VMs\\A.vhdx'), src.token);
    assert.strictEqual(disk.device, '\\\\.\\PhysicalDrive7');
    const r = await b.detach('c:\\vms\\a.VHDX', new CancellationTokenSource().token);
    assert.deepStrictEqual(r, { device: '\\\\.\\PhysicalDrive7', image: 'C:\\VMs\\A.vhdx' });
    assert.strictEqual(f.of('OpenVirtualDisk').length, 1, 'detached on the attach handle');
    assert.strictEqual(f.of('DetachVirtualDisk').length, 1);
    assert.strictEqual(f.leaked, 0, 'the attach handle is closed after detach');
  });
});
