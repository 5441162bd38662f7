// Every Win32/VirtDisk code the reference names maps to a specific message with data.win32 set.
import * as assert from 'assert';
import { ErrorCode } from '../../../src/common/protocol';
import { WorkerError } from '../../../src/worker/errors';
import { MAPPED_CODES, win32Error, win32Name } from '../../../src/worker/windows/win32-errors';

describe('Windows: Win32 error mapping', () => {
  const REFERENCE = [2, 5, 32, 87, 122, 618, 665, 1314, 1392, 6002, 0xC03A0001, 0xC03A0002, 0xC03A0003, 0xC03A000D,
    0xC03A000E, 0xC03A000F, 0xC03A0017, 0xC03A0018, 120];

  it('covers every code of the reference table', () => {
    for (const c of REFERENCE) assert.ok(MAPPED_CODES.includes(c), `0x${c.toString(16)} has no specific message`);
  });

  it('names the cause and sets data.win32 for every mapped code', () => {
    for (const c of MAPPED_CODES) {
      const e = win32Error(c, 'Attaching C:\\x.vhdx', { path: 'C:\\x.vhdx' });
      assert.ok(e instanceof WorkerError);
      assert.strictEqual(e.data.win32, c);
      assert.ok(!/^Win32 error|VirtDisk error 0x/.test(win32Name(c)), `${c} has no name`);
      if (c !== 120) {
        assert.ok(e.message.includes(win32Name(c)), e.message);
        assert.ok(e.message.length > 60, `message too thin for ${c}: ${e.message}`);
        assert.strictEqual(e.data.path, 'C:\\x.vhdx');
      }
    }
  });

  it('120 (Wine\'s OpenVirtualDisk) is NotSupported with the fixed wording', () => {
    const e = win32Error(120, 'Opening x');
    assert.strictEqual(e.code, ErrorCode.NotSupported);
    assert.strictEqual(e.message, 'Virtual disks are not supported on this system (VirtDisk returned 120)');
  });

  it('elevation errors are PermissionDenied with reason needs-elevation (the host offers Retry as Administrator)', () => {
    for (const c of [5, 1314]) {
      const e = win32Error(c, 'Attaching x');
      assert.strictEqual(e.code, ErrorCode.PermissionDenied);
      assert.strictEqual(e.data.reason, 'needs-elevation');
      assert.match(e.message, /Retry as Administrator/);
    }
  });

  it('classifies by meaning: busy, missing parent, corrupt ISO, unknown 0xC03A member, unknown code', () => {
    assert.strictEqual(win32Error(32, 'x').code, ErrorCode.Busy);
    assert.strictEqual(win32Error(0xC03A000D, 'x').code, ErrorCode.ImageProblem);
    assert.match(win32Error(0xC03A000D, 'x').message, /parent .* not found/);
    assert.match(win32Error(1392, 'x').message, /2048/);
    const unknownVhd = win32Error(0xC03A0050, 'x');
    assert.strictEqual(unknownVhd.code, ErrorCode.ImageProblem);
    assert.match(unknownVhd.message, /0xC03A0050/);
    const other = win32Error(1234, 'Doing y');
    assert.strictEqual(other.code, ErrorCode.OsError);
    assert.strictEqual(other.data.win32, 1234);
    assert.match(other.message, /Doing y failed with Win32 error 1234/);
  });
});
