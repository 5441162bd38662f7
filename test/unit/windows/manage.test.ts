// Image management on Windows (src/worker/windows/manage.ts): what reaches CreateVirtualDisk,
// SetVirtualDiskInformation, MergeVirtualDisk, CompactVirtualDisk and ResizeVirtualDisk, byte for byte, through the
// recording fake api; and how their Win32 answers map.
import * as assert from 'assert';
import koffi from 'koffi';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ErrorCode } from '../../../src/common/protocol';
import type { Handle } from '../../../src/worker/windows/api';
import * as C from '../../../src/worker/windows/constants';
import { guidStruct, WindowsImageManager } from '../../../src/worker/windows/manage';
import { WorkerError } from '../../../src/worker/errors';
import { FakeApi } from './fake-api';

const PARENT_ID = '0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9';
const OTHER_ID = 'ffffffff-4e5f-4071-8293-a4b5c6d7e8f9';

/** GET_VIRTUAL_DISK_INFO answers: IDENTIFIER for the parent, PARENT_IDENTIFIER for the child. */
function infoAnswers(childExpects: string) {
  return {
    GetVirtualDiskInformation: (_h: Handle, size: [number], buf: Buffer, used: [number] | null) => {
      const g = guidStruct(buf.readInt32LE(0) === C.GET_VIRTUAL_DISK_INFO_VERSION.IDENTIFIER ? PARENT_ID : childExpects);
      buf.writeUInt32LE(g.Data1, 8); buf.writeUInt16LE(g.Data2, 12); buf.writeUInt16LE(g.Data3, 14); Buffer.from(g.Data4).copy(buf, 16);
      size[0] = 24; if (used) used[0] = 24;
      return 0;
    },
  };
}

const mgr = (f: FakeApi) => { const vd = f.virtDisk(); return new WindowsImageManager(() => vd); };
const rejects = async (p: Promise<unknown>, check: (e: WorkerError) => boolean) => {
  let err: unknown;
  try { await p; } catch (e) { err = e; }
  assert.ok(err instanceof WorkerError && check(err), `unexpected outcome: ${err instanceof Error ? `${(err as WorkerError).code} ${err.message}` : 'resolved'}`);
};

describe('Windows: image management calls (CreateVirtualDisk, Set, Merge, Compact, Resize)', () => {
  let dir = '';
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-manage-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('CreateVirtualDisk: V2 in the SDK layout, access NONE, SD NULL, flags by type, a fresh UniqueId, handle closed', async () => {
    const f = new FakeApi();
    const file = path.join(dir, 'new.vhdx');
    await mgr(f).createDisk({ path: file, format: 'vhdx', type: 'dynamic', sizeBytes: 64 << 20, blockSizeBytes: 1 << 20, logicalSectorBytes: 4096, physicalSectorBytes: 4096 });
    const [c] = f.of('CreateVirtualDisk');
    assert.deepStrictEqual((c.args[0] as { DeviceId: number }).DeviceId, C.VIRTUAL_STORAGE_TYPE_DEVICE.VHDX);
    assert.deepStrictEqual(c.args.slice(1, 6), [file, C.VIRTUAL_DISK_ACCESS.NONE, null, C.CREATE_VIRTUAL_DISK_FLAG.NONE, 0]);
    assert.strictEqual(c.args[7], null, 'Overlapped NULL (run on koffi\'s thread, synchronous for VirtDisk)');
    const b = c.bytes!;
    assert.strictEqual(b.length, 184);
    assert.strictEqual(b.readInt32LE(0), 2);
    assert.ok(!b.subarray(8, 24).equals(Buffer.alloc(16)), 'UniqueId set');
    assert.strictEqual(b.readBigUInt64LE(24), 64n << 20n);
    assert.deepStrictEqual([b.readUInt32LE(32), b.readUInt32LE(36), b.readUInt32LE(40)], [1 << 20, 4096, 4096]);
    assert.strictEqual(b.readBigUInt64LE(48), 0n, 'ParentPath NULL');
    assert.strictEqual(b.readBigUInt64LE(56), 0n, 'SourcePath NULL');
    assert.ok(b.subarray(64, 128).equals(Buffer.alloc(64)), 'OpenFlags, storage types and ResiliencyGuid zero');
    assert.strictEqual(f.leaked, 0);
    const again = new FakeApi();
    await mgr(again).createDisk({ path: path.join(dir, 'fixed.vhd'), format: 'vhd', type: 'fixed', sizeBytes: 8 << 20 });
    const [d] = again.of('CreateVirtualDisk');
    assert.strictEqual(d.args[4], C.CREATE_VIRTUAL_DISK_FLAG.FULL_PHYSICAL_ALLOCATION);
    assert.deepStrictEqual((d.args[0] as { DeviceId: number }).DeviceId, C.VIRTUAL_STORAGE_TYPE_DEVICE.VHD);
    assert.ok(!d.bytes!.subarray(8, 24).equals(c.bytes!.subarray(8, 24)), 'each disk gets its own UniqueId');
  });

  it('refuses what VirtDisk would answer 87 to, and existing files, before any call', async () => {
    const f = new FakeApi();
    const m = mgr(f);
    await rejects(m.createDisk({ path: path.join(dir, 'a.vhd'), format: 'vhd', type: 'dynamic', sizeBytes: 1 << 20, logicalSectorBytes: 4096 }), (e) => /VHD: 512/.test(e.message));
    await rejects(m.createDisk({ path: path.join(dir, 'a.vhdx'), format: 'vhdx', type: 'dynamic', sizeBytes: 1000 }), (e) => e.code === ErrorCode.InvalidParams);
    await rejects(m.createDisk({ path: path.join(dir, 'a.vhdx'), format: 'vhdx', type: 'dynamic', sizeBytes: 1 << 20, blockSizeBytes: 3 << 20 }), (e) => /power of two/.test(e.message));
    await rejects(m.createDisk({ path: path.join(dir, 'a.vhdx'), format: 'vhdx', type: 'fixed', sizeBytes: 1 << 20, blockSizeBytes: 1 << 20 }), (e) => /no block size/.test(e.message));
    const existing = path.join(dir, 'exists.vhdx');
    fs.writeFileSync(existing, 'keep me');
    await rejects(m.createDisk({ path: existing, format: 'vhdx', type: 'dynamic', sizeBytes: 1 << 20 }), (e) => e.data.reason === 'exists');
    assert.strictEqual(fs.readFileSync(existing, 'utf8'), 'keep me');
    assert.strictEqual(f.of('CreateVirtualDisk').length, 0);
  });

  it('a failed create removes what it left, except when Windows says the file exists (someone else\'s)', async () => {
    const file = path.join(dir, 'fails.vhdx');
    const f = new FakeApi({ CreateVirtualDisk: async () => { fs.writeFileSync(file, 'half'); return 112; /* ERROR_DISK_FULL */ } });
    await rejects(mgr(f).createDisk({ path: file, format: 'vhdx', type: 'dynamic', sizeBytes: 1 << 20 }), (e) => e.data.win32 === 112);
    assert.strictEqual(fs.existsSync(file), false);
    const g = new FakeApi({ CreateVirtualDisk: async () => { fs.writeFileSync(file, 'theirs'); return C.ERROR.FILE_EXISTS; } });
    await rejects(mgr(g).createDisk({ path: file, format: 'vhdx', type: 'dynamic', sizeBytes: 1 << 20 }), (e) => e.code === ErrorCode.InvalidParams && e.data.win32 === 80);
    assert.strictEqual(fs.readFileSync(file, 'utf8'), 'theirs');
  });

  it('a differencing child: ParentPath set, size and sector sizes 0 (the parent\'s)', async () => {
    const f = new FakeApi();
    await mgr(f).createDifferencing(path.join(dir, 'child.avhdx'), 'C:\\base.vhdx');
    const [c] = f.of('CreateVirtualDisk');
    const v2 = (c.args[6] as { u: { Version2: Record<string, unknown> } }).u.Version2;
    assert.strictEqual(v2.ParentPath, 'C:\\base.vhdx');
    assert.strictEqual(c.bytes!.readBigUInt64LE(24), 0n);
    assert.notStrictEqual(c.bytes!.readBigUInt64LE(48), 0n, 'ParentPath pointer at union offset 40');
    await rejects(mgr(new FakeApi()).createDifferencing(path.join(dir, 'c.vhd'), 'C:\\base.vhdx'), (e) => /format/.test(e.message));
  });

  it('setParent: identifiers on GetInfoOnly + NO_PARENTS handles, then PARENT_PATH_WITH_DEPTH (ChildDepth 1) on a writable one', async () => {
    const f = new FakeApi(infoAnswers(PARENT_ID));
    await mgr(f).setParent('C:\\vm\\child.avhdx', 'D:\\moved\\base.vhdx', false);
    const opens = f.of('OpenVirtualDisk');
    assert.deepStrictEqual(opens.map((o) => [o.args[1], o.args[2], o.args[3], o.bytes!.readInt32LE(0), o.bytes!.readInt32LE(4), o.bytes!.readInt32LE(8)]), [
      ['D:\\moved\\base.vhdx', 0, C.OPEN_VIRTUAL_DISK_FLAG.NO_PARENTS, 2, 1, 0],
      ['C:\\vm\\child.avhdx', 0, C.OPEN_VIRTUAL_DISK_FLAG.NO_PARENTS, 2, 1, 0],
      ['C:\\vm\\child.avhdx', 0, C.OPEN_VIRTUAL_DISK_FLAG.NO_PARENTS, 2, 0, 0],
    ]);
    assert.deepStrictEqual(f.sequence(), ['OpenVirtualDisk', 'GetVirtualDiskInformation', 'CloseHandle', 'OpenVirtualDisk', 'GetVirtualDiskInformation',
      'CloseHandle', 'OpenVirtualDisk', 'SetVirtualDiskInformation', 'CloseHandle']);
    const [set] = f.of('SetVirtualDiskInformation');
    assert.strictEqual(set.bytes!.length, 32);
    assert.strictEqual(set.bytes!.readInt32LE(0), C.SET_VIRTUAL_DISK_INFO.PARENT_PATH_WITH_DEPTH);
    assert.strictEqual(set.bytes!.readUInt32LE(8), 1);
    assert.notStrictEqual(set.bytes!.readBigUInt64LE(16), 0n);
    assert.strictEqual((set.args[1] as { u: { ParentPathWithDepthInfo: { ParentFilePath: string } } }).u.ParentPathWithDepthInfo.ParentFilePath, 'D:\\moved\\base.vhdx');
    assert.strictEqual(f.leaked, 0);
  });

  it('setParent refuses a parent with another identifier unless told to ignore it; Windows 7\'s 87 gets PARENT_PATH', async () => {
    const f = new FakeApi(infoAnswers(OTHER_ID));
    await rejects(mgr(f).setParent('C:\\child.avhdx', 'C:\\base.vhdx', false), (e) => e.code === ErrorCode.ImageProblem && e.data.reason === 'parent-id-mismatch');
    assert.strictEqual(f.of('SetVirtualDiskInformation').length, 0);
    let n = 0;
    const g = new FakeApi({ ...infoAnswers(OTHER_ID), SetVirtualDiskInformation: () => (n++ === 0 ? C.ERROR.INVALID_PARAMETER : 0) });
    await mgr(g).setParent('C:\\child.avhdx', 'C:\\base.vhdx', true);
    const [a, b] = g.of('SetVirtualDiskInformation');
    assert.strictEqual(a.bytes!.readInt32LE(0), C.SET_VIRTUAL_DISK_INFO.PARENT_PATH_WITH_DEPTH);
    assert.strictEqual(b.bytes!.readInt32LE(0), C.SET_VIRTUAL_DISK_INFO.PARENT_PATH);
    assert.notStrictEqual(b.bytes!.readBigUInt64LE(8), 0n, 'ParentFilePath at union offset 0');
  });

  it('setIdentifier: VIRTUAL_DISK_ID (5) for VHDX, IDENTIFIER (2) for VHD; setPhysicalSectorSize: version 4', async () => {
    const f = new FakeApi();
    const m = mgr(f);
    await m.setIdentifier('C:\\a.vhdx', PARENT_ID);
    await m.setIdentifier('C:\\a.vhd', PARENT_ID);
    await m.setPhysicalSectorSize('C:\\a.vhdx', 4096);
    const [x, v, p] = f.of('SetVirtualDiskInformation').map((c) => c.bytes!);
    assert.strictEqual(x.readInt32LE(0), 5);
    assert.strictEqual(x.subarray(8, 24).toString('hex'), '3d2c1b0a5f4e714082 93a4b5c6d7e8f9'.replace(/ /g, ''));
    assert.strictEqual(v.readInt32LE(0), 2);
    assert.ok(v.subarray(8, 24).equals(x.subarray(8, 24)));
    assert.deepStrictEqual([p.readInt32LE(0), p.readUInt32LE(8)], [4, 4096]);
    await rejects(m.setIdentifier('C:\\a.vhdx', 'nope'), (e) => e.code === ErrorCode.InvalidParams);
  });

  it('merge V2 (source depth 1, target depth + 1), compact V1, resize V1: V2 handles with access NONE, flags NONE, no OVERLAPPED', async () => {
    const f = new FakeApi();
    const m = mgr(f);
    await m.merge('C:\\c.avhdx', 1);
    await m.merge('C:\\c.avhdx', 2);
    await m.compact('C:\\d.vhdx');
    await m.resize('C:\\d.vhdx', 10 * 2 ** 30);
    for (const o of f.of('OpenVirtualDisk')) {
      assert.strictEqual(o.args[2], C.VIRTUAL_DISK_ACCESS.NONE);
      assert.strictEqual(o.args[3], C.OPEN_VIRTUAL_DISK_FLAG.NONE);
      assert.deepStrictEqual([o.bytes!.readInt32LE(0), o.bytes!.readInt32LE(4), o.bytes!.readInt32LE(8)], [2, 0, 0]);
    }
    const [m1, m2] = f.of('MergeVirtualDisk');
    assert.strictEqual(m1.bytes!.toString('hex'), '02000000' + '01000000' + '02000000');
    assert.strictEqual(m2.bytes!.toString('hex'), '02000000' + '01000000' + '03000000');
    const [c] = f.of('CompactVirtualDisk');
    assert.strictEqual(c.bytes!.toString('hex'), '01000000' + '00000000');
    const [r] = f.of('ResizeVirtualDisk');
    assert.strictEqual(r.bytes!.readInt32LE(0), 1);
    assert.strictEqual(r.bytes!.readBigUInt64LE(8), 10n << 30n);
    for (const call of [m1, m2, c, r]) assert.deepStrictEqual([call.args[1], call.args[3]], [0, null]);
    assert.strictEqual(f.leaked, 0);
  });

  it('maps the answers: 120 (Wine) NotSupported, 5 needs elevation, 32 busy, chain errors ImageProblem; handles closed', async () => {
    const w = new FakeApi({ OpenVirtualDisk: () => 120 });
    for (const run of [(m: WindowsImageManager) => m.compact('C:\\d.vhdx'), (m: WindowsImageManager) => m.merge('C:\\c.avhdx', 1),
      (m: WindowsImageManager) => m.resize('C:\\d.vhdx', 1 << 30), (m: WindowsImageManager) => m.setParent('C:\\c.avhdx', 'C:\\p.vhdx', false)]) {
      await rejects(run(mgr(w)), (e) => e.code === ErrorCode.NotSupported && e.message === 'Virtual disks are not supported on this system (VirtDisk returned 120)');
    }
    const f = new FakeApi({ ResizeVirtualDisk: async () => 5, CompactVirtualDisk: async () => 32, MergeVirtualDisk: async () => 0xC03A000E });
    await rejects(mgr(f).resize('C:\\d.vhdx', 1 << 30), (e) => e.code === ErrorCode.PermissionDenied && e.data.reason === 'needs-elevation');
    await rejects(mgr(f).compact('C:\\d.vhdx'), (e) => e.code === ErrorCode.Busy);
    await rejects(mgr(f).merge('C:\\c.avhdx', 1), (e) => e.code === ErrorCode.ImageProblem && e.data.win32 === 0xC03A000E);
    assert.strictEqual(f.leaked, 0);
    // 87 to the V2 open: a V1 probe tells Windows 7 (V1 works) from Wine (V1 answers 120)
    const seven = new FakeApi({ OpenVirtualDisk: (_t, _p, _m, _f, params, out) => {
      if ((params as { Version: number }).Version === 2) return C.ERROR.INVALID_PARAMETER;
      out[0] = koffi.alloc('uint8_t', 1) as never; return 0;
    } });
    await rejects(mgr(seven).compact('C:\\d.vhdx'), (e) => e.code === ErrorCode.NotSupported && e.data.reason === 'needs-windows-8');
    const probe = seven.of('OpenVirtualDisk')[1];
    assert.deepStrictEqual([probe.args[2], probe.bytes!.readInt32LE(0), probe.bytes!.readUInt32LE(4)], [C.VIRTUAL_DISK_ACCESS.GET_INFO, 1, 1]);
    assert.strictEqual(seven.of('CompactVirtualDisk').length, 0);
    const wine = new FakeApi({ OpenVirtualDisk: (_t, _p, _m, _f, params) => ((params as { Version: number }).Version === 2 ? 87 : 120) });
    await rejects(mgr(wine).resize('C:\\d.vhdx', 1 << 30), (e) => e.code === ErrorCode.NotSupported && e.data.win32 === 120);
    const g = new FakeApi();
    await rejects(mgr(g).compact('C:\\cd.iso'), (e) => e.code === ErrorCode.UnsupportedImage);
    await rejects(mgr(g).merge('C:\\c.avhdx', 0), (e) => e.code === ErrorCode.InvalidParams);
    await rejects(mgr(g).resize('C:\\d.vhdx', 1000), (e) => e.code === ErrorCode.InvalidParams);
    assert.strictEqual(g.calls.length, 0);
  });
});
