// Recognising Wine's unimplemented-function stubs before calling them (src/worker/windows/wine-stubs.ts), on code
// bytes laid out in memory here as winebuild lays them out (x64); the real stubs are met under Wine in
// test/worker/windows-wine.test.ts and windows-wine-calls.test.ts.
import * as assert from 'assert';
import koffi from 'koffi';
import { isWineStub } from '../../../src/worker/windows/wine-stubs';

/** sub rsp,28h; lea rcx,[rip+0]; lea rdx,[rip+d] (d: to `name` at byte 40); call; then the name. */
function stubBytes(name: string): Buffer {
  const b = Buffer.alloc(96);
  Buffer.from([0x48, 0x83, 0xec, 0x28, 0x48, 0x8d, 0x0d, 0, 0, 0, 0, 0x48, 0x8d, 0x15]).copy(b);
  b.writeInt32LE(40 - 18, 14);
  b[18] = 0xe8;
  b.write(`${name}\0`, 40, 'latin1');
  return b;
}

function withCode<T>(b: Buffer, f: (p: unknown) => T): T {
  const p = koffi.alloc('uint8_t', b.length);
  try { koffi.encode(p, `uint8_t[${b.length}]`, [...b]); return f(p); } finally { koffi.free(p); }
}

describe('Wine stub recognition', () => {
  it('knows a stub by its shape and its own name, and nothing else', () => {
    const fn = 'GetAllAttachedVirtualDiskPhysicalPaths';
    assert.strictEqual(withCode(stubBytes(fn), (p) => isWineStub(p, fn)), true);
    assert.strictEqual(withCode(stubBytes(fn), (p) => isWineStub(p, 'OpenVirtualDisk')), false, 'the stub of another function');
    const other = stubBytes(fn); other[3] = 0x38; // sub rsp,38h: an ordinary prologue
    assert.strictEqual(withCode(other, (p) => isWineStub(p, fn)), false);
    const noCall = stubBytes(fn); noCall[18] = 0x90;
    assert.strictEqual(withCode(noCall, (p) => isWineStub(p, fn)), false);
    assert.strictEqual(isWineStub(null, fn), false);
  });
});
