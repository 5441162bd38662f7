// What reaches VirtDisk for attach, detach and dependency queries: struct bytes (encoded with the real koffi
// types), flags, versions, access masks, security descriptors and call order, through a recording fake api.
import * as assert from 'assert';
import koffi from 'koffi';
import { ErrorCode } from '../../../src/common/protocol';
import { WorkerError } from '../../../src/worker/errors';
import * as C from '../../../src/worker/windows/constants';
import { depsHandleFor } from '../../../src/worker/windows/deps-target';
import { attachSddl, sidToString, userRights } from '../../../src/worker/windows/security';
import { FakeApi, USER_SID } from './fake-api';

const hex = (b: Buffer | undefined) => b!.toString('hex');
const u32 = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b.toString('hex'); };

describe('Windows: what reaches VirtDisk', () => {
  describe('AttachVirtualDisk', () => {
    it('passes a descriptor for SYSTEM, Administrators and this user (write-attributes included), never Everyone', () => {
      for (const readOnly of [true, false]) {
        const f = new FakeApi();
        const vd = f.virtDisk();
        const h = vd.open('C:\\d.vhdx', 'vhdx', readOnly ? 'attach-ro' : 'attach-rw');
        vd.attach(h, 'C:\\d.vhdx', { readOnly, permanent: false });
        const [conv] = f.of('ConvertStringSecurityDescriptorToSecurityDescriptorW');
        const sddl = conv.args[0] as string;
        const rights = readOnly ? 0x1201A9 : 0x1201BF;
        assert.strictEqual(sddl, `O:${USER_SID}G:BAD:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x${rights.toString(16)};;;${USER_SID})`);
        assert.ok(!/;WD\)|;AU\)|;BU\)/.test(sddl), sddl);
        assert.ok(userRights(readOnly) & C.FILE_WRITE_ATTRIBUTES, 'Explorer needs write-attributes (Recycle Bin)');
        assert.strictEqual(Boolean(userRights(readOnly) & 0x2 /* FILE_WRITE_DATA */), !readOnly);
        const [att] = f.of('AttachVirtualDisk');
        // the descriptor Convert produced is the one AttachVirtualDisk receives, and it is freed afterwards
        const sd = (conv.args[2] as [unknown])[0];
        assert.strictEqual(att.args[1], sd);
        assert.strictEqual(f.of('LocalFree')[0].args[0], sd);
        assert.deepStrictEqual(f.sequence().slice(1), ['GetCurrentProcess', 'OpenProcessToken', 'GetTokenInformation', 'GetTokenInformation',
          'CloseHandle', 'ConvertStringSecurityDescriptorToSecurityDescriptorW', 'AttachVirtualDisk', 'LocalFree']);
      }
    });

    it('sends ATTACH parameters Version 1 in the SDK\'s 24 bytes (Reserved 0 at offset 8), flags by request, provider flags 0', () => {
      const f = new FakeApi();
      const vd = f.virtDisk();
      const h = vd.open('C:\\d.vhdx', 'vhdx', 'attach-ro');
      vd.attach(h, 'C:\\d.vhdx', { readOnly: true, permanent: true });
      vd.attach(h, 'C:\\d.vhdx', { readOnly: false, permanent: false, noDriveLetter: true });
      const [a, b] = f.of('AttachVirtualDisk');
      assert.strictEqual(hex(a.bytes), u32(1) + '00'.repeat(20));
      assert.strictEqual(a.args[2], C.ATTACH_VIRTUAL_DISK_FLAG.READ_ONLY | C.ATTACH_VIRTUAL_DISK_FLAG.PERMANENT_LIFETIME);
      assert.strictEqual(a.args[3], 0);
      assert.strictEqual(a.args[5], null, 'synchronous: no OVERLAPPED');
      assert.strictEqual(b.args[2], C.ATTACH_VIRTUAL_DISK_FLAG.NO_DRIVE_LETTER);
    });

    it('reads the user SID from TOKEN_USER inside the buffer, and fails loudly on a pointer outside it', () => {
      const buf = Buffer.from('010500000000000515000000010000000200000003000000', 'hex');
      assert.strictEqual(sidToString(Buffer.concat([buf, Buffer.from('e9030000', 'hex')]), 0), USER_SID);
      assert.throws(() => sidToString(buf, 0), /malformed SID/);
      assert.throws(() => attachSddl('Everyone', true), /not a SID/);
      const f = new FakeApi({ GetTokenInformation: (_t, _c, b, _s, needed) => { needed[0] = 64; if (b) b.writeBigUInt64LE(16n, 0); return 1; } });
      const vd = f.virtDisk();
      const h = vd.open('C:\\d.vhdx', 'vhdx', 'attach-ro');
      assert.throws(() => vd.attach(h, 'C:\\d.vhdx', { readOnly: true, permanent: false }), /SID outside its buffer/);
      assert.strictEqual(f.of('AttachVirtualDisk').length, 0);
      assert.strictEqual(f.of('CloseHandle').length, 1, 'the token handle is closed on failure too');
    });
  });

  describe('OpenVirtualDisk for detach (a disk another process attached read-only and permanent)', () => {
    const V1_DETACH = u32(1) + u32(0) + '00'.repeat(36); // Version 1, RWDepth 0: nothing opened read/write
    const V2_READONLY = u32(2) + u32(0) + u32(1) + '00'.repeat(32); // Version 2, GetInfoOnly 0, ReadOnly 1

    it('opens V1 with DETACH access only and RWDepth 0 (no write access), flags NONE', () => {
      const f = new FakeApi();
      f.virtDisk().open('C:\\ro.vhdx', 'vhdx', 'detach');
      const [o] = f.of('OpenVirtualDisk');
      assert.strictEqual(o.args[2], C.VIRTUAL_DISK_ACCESS.DETACH);
      assert.strictEqual((o.args[2] as number) & C.VIRTUAL_DISK_ACCESS.WRITABLE, 0);
      assert.strictEqual(o.args[3], C.OPEN_VIRTUAL_DISK_FLAG.NONE);
      assert.strictEqual(hex(o.bytes), V1_DETACH);
      assert.deepStrictEqual((o.args[0] as { DeviceId: number }).DeviceId, C.VIRTUAL_STORAGE_TYPE_DEVICE.VHDX);
    });

    for (const first of [C.ERROR.SHARING_VIOLATION, C.ERROR.ACCESS_DENIED]) {
      it(`falls back to V2, access NONE, ReadOnly when the first open answers ${first}`, () => {
        let n = 0;
        const f = new FakeApi({ OpenVirtualDisk: (_t, _p, _m, _f, _params, out) => { if (n++ === 0) return first; out[0] = koffi.alloc('uint8_t', 1) as never; return 0; } });
        f.virtDisk().open('C:\\ro.vhdx', 'vhdx', 'detach');
        const [a, b] = f.of('OpenVirtualDisk');
        assert.strictEqual(hex(a.bytes), V1_DETACH);
        assert.strictEqual(b.args[2], C.VIRTUAL_DISK_ACCESS.NONE);
        assert.strictEqual(hex(b.bytes), V2_READONLY);
      });
    }

    it('when both fail, access denied wins (elevation may help), else the last code is mapped', () => {
      const codes = [C.ERROR.ACCESS_DENIED, C.ERROR.SHARING_VIOLATION];
      const f = new FakeApi({ OpenVirtualDisk: () => codes.shift()! });
      assert.throws(() => f.virtDisk().open('C:\\ro.vhdx', 'vhdx', 'detach'),
        (e: WorkerError) => e.code === ErrorCode.PermissionDenied && e.data.win32 === 5 && e.data.reason === 'needs-elevation');
      const g = new FakeApi({ OpenVirtualDisk: () => C.ERROR.SHARING_VIOLATION });
      assert.throws(() => g.virtDisk().open('C:\\ro.vhdx', 'vhdx', 'detach'), (e: WorkerError) => e.code === ErrorCode.Busy && e.data.win32 === 32);
      assert.strictEqual(g.of('OpenVirtualDisk').length, 2);
    });

    it('does not retry other failures (file not found), and an ISO gets the V1 open only', () => {
      const f = new FakeApi({ OpenVirtualDisk: () => C.ERROR.FILE_NOT_FOUND });
      assert.throws(() => f.virtDisk().open('C:\\gone.vhdx', 'vhdx', 'detach'), (e: WorkerError) => e.data.win32 === 2);
      assert.strictEqual(f.of('OpenVirtualDisk').length, 1);
      const g = new FakeApi({ OpenVirtualDisk: () => C.ERROR.SHARING_VIOLATION });
      assert.throws(() => g.virtDisk().open('C:\\cd.iso', 'iso', 'detach'));
      assert.strictEqual(g.of('OpenVirtualDisk').length, 1);
      assert.strictEqual((g.of('OpenVirtualDisk')[0].args[0] as { DeviceId: number }).DeviceId, C.VIRTUAL_STORAGE_TYPE_DEVICE.ISO);
    });
  });

  describe('GetStorageDependencyInformation', () => {
    it('opens a disk with access 0 (share read/write) and a volume root with FILE_READ_ATTRIBUTES and BACKUP_SEMANTICS', () => {
      const f = new FakeApi();
      const vd = f.virtDisk();
      vd.close(vd.openDevice('\\\\.\\PhysicalDrive2', 'disk'));
      vd.close(vd.openDevice('D:\\', 'volume'));
      const [disk, vol] = f.of('CreateFileW');
      assert.deepStrictEqual(disk.args, ['\\\\.\\PhysicalDrive2', 0, C.FILE_SHARE_READ | C.FILE_SHARE_WRITE, null, C.OPEN_EXISTING, C.FILE_ATTRIBUTE_NORMAL, null]);
      assert.deepStrictEqual(vol.args, ['D:\\', C.FILE_READ_ATTRIBUTES, C.FILE_SHARE_READ | C.FILE_SHARE_WRITE | C.FILE_SHARE_DELETE, null,
        C.OPEN_EXISTING, C.FILE_FLAG_BACKUP_SEMANTICS, null]);
      assert.strictEqual(f.leaked, 0);
    });

    it('flags per handle kind: disks DISK_HANDLE | HOST_VOLUMES, volume roots HOST_VOLUMES', () => {
      const F = C.GET_STORAGE_DEPENDENCY_FLAG;
      const none = () => null;
      assert.deepStrictEqual(depsHandleFor('\\\\.\\PhysicalDrive3', none), { path: '\\\\.\\PhysicalDrive3', kind: 'disk', flags: F.DISK_HANDLE | F.HOST_VOLUMES });
      assert.deepStrictEqual(depsHandleFor('\\\\.\\CdRom0', none), { path: '\\\\.\\CdRom0', kind: 'disk', flags: F.DISK_HANDLE | F.HOST_VOLUMES });
      assert.deepStrictEqual(depsHandleFor('C:\\Images\\a.vhdx', () => '\\\\.\\PhysicalDrive4'), { path: '\\\\.\\PhysicalDrive4', kind: 'disk', flags: F.DISK_HANDLE | F.HOST_VOLUMES });
      assert.deepStrictEqual(depsHandleFor('\\\\server\\share\\a.vhdx', () => '\\\\.\\PhysicalDrive5'), { path: '\\\\.\\PhysicalDrive5', kind: 'disk', flags: F.DISK_HANDLE | F.HOST_VOLUMES });
      assert.deepStrictEqual(depsHandleFor('e:', none), { path: 'E:\\', kind: 'volume', flags: F.HOST_VOLUMES });
      assert.deepStrictEqual(depsHandleFor('c:\\windows\\system32', none), { path: 'C:\\', kind: 'volume', flags: F.HOST_VOLUMES });
      const guid = '\\\\?\\Volume{0a1b2c3d-0000-0000-0000-100000000000}';
      assert.deepStrictEqual(depsHandleFor(guid, none), { path: `${guid}\\`, kind: 'volume', flags: F.HOST_VOLUMES });
      assert.throws(() => depsHandleFor('not a path', none), (e: WorkerError) => e.code === ErrorCode.InvalidParams);
    });

    it('writes Version 2 before every call and retries ERROR_INSUFFICIENT_BUFFER with the size Windows asks for, same flags', () => {
      const sizes: number[] = [];
      const versions: number[] = [];
      const f = new FakeApi({
        GetStorageDependencyInformation: (_h, _flags, size, buf, used) => {
          sizes.push(size); versions.push(buf.readInt32LE(0));
          if (size < 5000) { used[0] = 5000; return C.ERROR.INSUFFICIENT_BUFFER; }
          buf.writeUInt32LE(0, 4); used[0] = 8; return 0;
        },
      });
      const vd = f.virtDisk();
      const flags = C.GET_STORAGE_DEPENDENCY_FLAG.DISK_HANDLE | C.GET_STORAGE_DEPENDENCY_FLAG.HOST_VOLUMES;
      assert.deepStrictEqual(vd.dependencies({} as never, flags, 'disk'), []);
      assert.deepStrictEqual(sizes, [1024, 5000]);
      assert.deepStrictEqual(versions, [2, 2]);
      assert.deepStrictEqual(f.of('GetStorageDependencyInformation').map((c) => c.args[1]), [flags, flags]);
    });

    it('gives up after repeated 122 answers with the mapped error, not a loop', () => {
      const f = new FakeApi({ GetStorageDependencyInformation: (_h, _f, size, _b, used) => { used[0] = size + 1; return C.ERROR.INSUFFICIENT_BUFFER; } });
      assert.throws(() => f.virtDisk().dependencies({} as never, 2, 'disk'), (e: WorkerError) => e.data.win32 === 122);
      assert.strictEqual(f.of('GetStorageDependencyInformation').length, 5);
    });
  });
});
