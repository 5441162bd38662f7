// ABI proof without Windows: a C file generated from OUR koffi definitions (src/worker/windows/structs.ts) is
// compiled for Windows by mingw-w64 against its virtdisk.h/winioctl.h (plus layout-prelude.h's SDK-only members);
// every sizeof/alignof/offsetof becomes a common symbol whose size nm reads back, without running anything, and
// must equal koffi's answer. The constants in constants.ts are checked by _Static_assert against the headers.
// x64 with x86_64-w64-mingw32-gcc, arm64 with clang --target=aarch64-w64-mingw32 on the same headers (Debian has no
// aarch64 mingw gcc). Both are required: the test fails, never skips, without them (apt: gcc-mingw-w64-x86-64 clang-14).
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import koffi from 'koffi';
import { STRUCTS } from '../../../src/worker/windows/structs';
import * as K from '../../../src/worker/windows/constants';

const HERE = path.resolve(__dirname, '../../../../test/unit/windows');

/** koffi struct name -> the C type that carries the SDK layout. */
const C_TYPE: Record<string, string> = {
  OPEN_VIRTUAL_DISK_PARAMETERS: 'SDK_OPEN_VIRTUAL_DISK_PARAMETERS',
  ATTACH_VIRTUAL_DISK_PARAMETERS: 'SDK_ATTACH_VIRTUAL_DISK_PARAMETERS',
  CREATE_VIRTUAL_DISK_PARAMETERS: 'SDK_CREATE_VIRTUAL_DISK_PARAMETERS',
};

interface Layout { symbol: string; cExpr: string; koffi: number }

type TypeInfo = { primitive: string; size: number; alignment: number; members?: Record<string, { type: unknown; offset: number }>; ref?: unknown; length?: number };
const info = (t: unknown) => koffi.type(t as Parameters<typeof koffi.type>[0]) as unknown as TypeInfo;

/**
 * Every member path of a koffi record with its offset. Our unions are the C's anonymous ones and are named `u`
 * in koffi, so `u.` disappears from the C path; an array's members are checked through its first element.
 */
function memberPaths(t: unknown, cPrefix: string, base: number, out: { c: string; offset: number }[]): void {
  const ti = info(t);
  if (ti.primitive === 'Array') {
    memberPaths(ti.ref, `${cPrefix}[0]`, base, out);
    return;
  }
  if (!ti.members) return;
  for (const [name, m] of Object.entries(ti.members)) {
    const cPath = name === 'u' ? cPrefix : `${cPrefix}${cPrefix ? '.' : ''}${name}`;
    if (name !== 'u') out.push({ c: cPath, offset: base + m.offset });
    memberPaths(m.type, cPath, base + m.offset, out);
  }
}

function layouts(): Layout[] {
  const out: Layout[] = [];
  for (const [name, t] of Object.entries(STRUCTS)) {
    const cType = C_TYPE[name] ?? name;
    out.push({ symbol: `sizeof__${name}`, cExpr: `sizeof(${cType})`, koffi: koffi.sizeof(t) });
    out.push({ symbol: `alignof__${name}`, cExpr: `__alignof__(${cType})`, koffi: koffi.alignof(t) });
    const members: { c: string; offset: number }[] = [];
    memberPaths(t, '', 0, members);
    for (const m of members) {
      out.push({ symbol: `offsetof__${name}__${m.c.replace(/[.[\]]+/g, '_')}`, cExpr: `offsetof(${cType}, ${m.c})`, koffi: m.offset });
    }
  }
  return out;
}

/**
 * C constant name -> our value. Not in mingw-w64 10's headers, so only checked against the SDK documentation:
 * VIRTUAL_STORAGE_TYPE_DEVICE_VHDSET (4), OPEN_VIRTUAL_DISK_RW_DEPTH_DEFAULT (1), ERROR_UNSUPPORTED_COMPRESSION (618),
 * ERROR_FILE_SYSTEM_LIMITATION (665) and the 0xC03A00xx VirtDisk family.
 */
function constants(): [string, number][] {
  const out: [string, number][] = [];
  const group = (prefix: string, obj: Record<string, number>, skip: string[] = []) => {
    for (const [k, v] of Object.entries(obj)) if (!skip.includes(k)) out.push([`${prefix}${k}`, v]);
  };
  group('VIRTUAL_STORAGE_TYPE_DEVICE_', K.VIRTUAL_STORAGE_TYPE_DEVICE, ['VHDSET']);
  group('VIRTUAL_DISK_ACCESS_', K.VIRTUAL_DISK_ACCESS);
  group('OPEN_VIRTUAL_DISK_FLAG_', K.OPEN_VIRTUAL_DISK_FLAG);
  group('OPEN_VIRTUAL_DISK_VERSION_', { '1': K.OPEN_VIRTUAL_DISK_VERSION.V1, '2': K.OPEN_VIRTUAL_DISK_VERSION.V2 });
  group('ATTACH_VIRTUAL_DISK_FLAG_', K.ATTACH_VIRTUAL_DISK_FLAG);
  group('ATTACH_VIRTUAL_DISK_VERSION_', { '1': K.ATTACH_VIRTUAL_DISK_VERSION.V1 });
  group('GET_STORAGE_DEPENDENCY_FLAG_', K.GET_STORAGE_DEPENDENCY_FLAG);
  group('DEPENDENT_DISK_FLAG_', K.DEPENDENT_DISK_FLAG);
  group('GET_VIRTUAL_DISK_INFO_', K.GET_VIRTUAL_DISK_INFO_VERSION);
  group('CREATE_VIRTUAL_DISK_VERSION_', { '1': K.CREATE_VIRTUAL_DISK_VERSION.V1, '2': K.CREATE_VIRTUAL_DISK_VERSION.V2 });
  group('CREATE_VIRTUAL_DISK_FLAG_', K.CREATE_VIRTUAL_DISK_FLAG);
  group('SET_VIRTUAL_DISK_INFO_', K.SET_VIRTUAL_DISK_INFO);
  group('MERGE_VIRTUAL_DISK_VERSION_', { '1': K.MERGE_VIRTUAL_DISK_VERSION.V1, '2': K.MERGE_VIRTUAL_DISK_VERSION.V2 });
  group('RESIZE_VIRTUAL_DISK_FLAG_', K.RESIZE_VIRTUAL_DISK_FLAG);
  out.push(['MERGE_VIRTUAL_DISK_FLAG_NONE', K.MERGE_VIRTUAL_DISK_FLAG_NONE], ['COMPACT_VIRTUAL_DISK_VERSION_1', K.COMPACT_VIRTUAL_DISK_VERSION_1],
    ['COMPACT_VIRTUAL_DISK_FLAG_NONE', K.COMPACT_VIRTUAL_DISK_FLAG_NONE], ['RESIZE_VIRTUAL_DISK_VERSION_1', K.RESIZE_VIRTUAL_DISK_VERSION_1],
    ['FILE_READ_ATTRIBUTES', K.FILE_READ_ATTRIBUTES], ['FILE_SHARE_DELETE', K.FILE_SHARE_DELETE], ['TOKEN_QUERY', K.TOKEN_QUERY],
    ['TokenUser', K.TOKEN_USER_CLASS], ['FILE_GENERIC_READ', K.FILE_GENERIC_READ], ['FILE_GENERIC_WRITE', K.FILE_GENERIC_WRITE],
    ['FILE_GENERIC_EXECUTE', K.FILE_GENERIC_EXECUTE], ['FILE_WRITE_ATTRIBUTES', K.FILE_WRITE_ATTRIBUTES]);
  out.push(['DETACH_VIRTUAL_DISK_FLAG_NONE', K.DETACH_VIRTUAL_DISK_FLAG_NONE],
    ['STORAGE_DEPENDENCY_INFO_VERSION_2', K.STORAGE_DEPENDENCY_INFO_VERSION_2],
    ['GENERIC_READ', K.GENERIC_READ], ['FILE_SHARE_READ', K.FILE_SHARE_READ], ['FILE_SHARE_WRITE', K.FILE_SHARE_WRITE],
    ['OPEN_EXISTING', K.OPEN_EXISTING], ['FILE_FLAG_BACKUP_SEMANTICS', K.FILE_FLAG_BACKUP_SEMANTICS],
    ['FILE_ATTRIBUTE_NORMAL', K.FILE_ATTRIBUTE_NORMAL], ['FILE_READ_ONLY_VOLUME', K.FILE_READ_ONLY_VOLUME],
    ['FORMAT_MESSAGE_FROM_SYSTEM', K.FORMAT_MESSAGE_FROM_SYSTEM], ['FORMAT_MESSAGE_FROM_HMODULE', K.FORMAT_MESSAGE_FROM_HMODULE],
    ['FORMAT_MESSAGE_IGNORE_INSERTS', K.FORMAT_MESSAGE_IGNORE_INSERTS], ['SDDL_REVISION_1', K.SDDL_REVISION_1], ['MAX_PATH', K.MAX_PATH],
    ['IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS', K.IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS],
    ['IOCTL_STORAGE_GET_DEVICE_NUMBER', K.IOCTL_STORAGE_GET_DEVICE_NUMBER],
    ['FILE_DEVICE_DISK', K.FILE_DEVICE_DISK], ['FILE_DEVICE_CD_ROM', K.FILE_DEVICE_CD_ROM], ['FILE_DEVICE_DVD', K.FILE_DEVICE_DVD],
    ['SEE_MASK_NOCLOSEPROCESS', K.SEE_MASK_NOCLOSEPROCESS], ['SEE_MASK_NOASYNC', K.SEE_MASK_NOASYNC],
    ['SEE_MASK_FLAG_NO_UI', K.SEE_MASK_FLAG_NO_UI], ['SW_HIDE', K.SW_HIDE]);
  for (const [k, v] of Object.entries(K.ERROR)) {
    if (k.startsWith('VIRTDISK_') || k === 'UNSUPPORTED_COMPRESSION' || k === 'FILE_SYSTEM_LIMITATION') continue;
    out.push([k === 'SUCCESS' ? 'ERROR_SUCCESS' : `ERROR_${k}`, v]);
  }
  return out;
}

function generate(all: Layout[]): string {
  const lines = ['#include "layout-prelude.h"', ''];
  for (const l of all) lines.push(`VD_VALUE(${l.symbol}, ${l.cExpr})`);
  lines.push('');
  for (const [name, v] of constants()) {
    lines.push(`_Static_assert((unsigned long long)(${name}) == ${v}ULL, "${name} is not ${v} (0x${v.toString(16)}) in the Windows headers");`);
  }
  return lines.join('\n') + '\n';
}

/** Compiles `src` with `cc` and returns symbol -> value from `nm` (common symbols only). */
function compileAndRead(cc: string, ccArgs: string[], nm: string, src: string, dir: string): Map<string, number> {
  const obj = path.join(dir, `${path.basename(cc)}.o`);
  const r = cp.spawnSync(cc, [...ccArgs, '-fcommon', '-D_WIN32_WINNT=0x0A00', '-I', HERE, '-c', src, '-o', obj], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, `${cc} failed:\n${r.stderr}`);
  const n = cp.spawnSync(nm, [obj], { encoding: 'utf8' });
  assert.strictEqual(n.status, 0, `${nm} failed: ${n.stderr}`);
  const values = new Map<string, number>();
  for (const line of n.stdout.split('\n')) {
    const [size, kind, sym] = line.trim().split(/\s+/);
    if (kind === 'C' && /^(sizeof|alignof|offsetof)__/.test(sym)) values.set(sym, parseInt(size, 16) - 1);
  }
  return values;
}

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && fs.existsSync(path.join(dir, cmd))) return path.join(dir, cmd);
  return null;
}

describe('Windows ABI: koffi definitions vs mingw-w64 headers', function () {
  this.timeout(120_000);
  let dir = '';
  let src = '';
  const all = layouts();

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-abi-'));
    src = path.join(dir, 'layout.c');
    fs.writeFileSync(src, generate(all));
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('covers every bound struct, member and the SDK sizes the Windows DLL expects', () => {
    assert.ok(all.length > 80, `only ${all.length} layout values`);
    const get = (s: string) => all.find((l) => l.symbol === s)?.koffi;
    assert.strictEqual(get('sizeof__ATTACH_VIRTUAL_DISK_PARAMETERS'), 24);
    assert.strictEqual(get('offsetof__ATTACH_VIRTUAL_DISK_PARAMETERS__Version1_Reserved'), 8);
    assert.strictEqual(get('sizeof__OPEN_VIRTUAL_DISK_PARAMETERS'), 44);
    assert.strictEqual(get('sizeof__STORAGE_DEPENDENCY_INFO_TYPE_2'), 64);
    assert.strictEqual(get('offsetof__STORAGE_DEPENDENCY_INFO__Version2Entries_0_DependentVolumeRelativePath'), 8 + 56);
    // the SDK's CREATE layout (mingw's Version2 lacks PhysicalSectorSizeInBytes and would put ParentPath at 8 + 32)
    assert.strictEqual(get('sizeof__CREATE_VIRTUAL_DISK_PARAMETERS'), 184);
    assert.strictEqual(get('offsetof__CREATE_VIRTUAL_DISK_PARAMETERS__Version2_ParentPath'), 8 + 40);
    assert.strictEqual(get('offsetof__SET_VIRTUAL_DISK_INFO__ParentPathWithDepthInfo_ParentFilePath'), 8 + 8);
    assert.strictEqual(get('sizeof__RESIZE_VIRTUAL_DISK_PARAMETERS'), 16);
  });

  it('x64: x86_64-w64-mingw32-gcc agrees with koffi on every sizeof/alignof/offsetof and every constant', () => {
    const cc = which('x86_64-w64-mingw32-gcc');
    assert.ok(cc, 'x86_64-w64-mingw32-gcc is not installed: apt-get install gcc-mingw-w64-x86-64 (required for this test)');
    const t0 = Date.now();
    const values = compileAndRead(cc!, ['-O0'], which('x86_64-w64-mingw32-nm') ?? 'x86_64-w64-mingw32-nm', src, dir);
    console.log(`      (mingw compile + nm: ${Date.now() - t0} ms, ${values.size} values)`);
    const wrong = all.filter((l) => values.get(l.symbol) !== l.koffi).map((l) => `${l.symbol}: C ${values.get(l.symbol)}, koffi ${l.koffi}`);
    assert.deepStrictEqual(wrong, []);
    assert.strictEqual(values.size, all.length);
  });

  it('arm64: clang --target=aarch64-w64-mingw32 with the same headers agrees with koffi (LLP64 like x64)', () => {
    const clang = which('clang-14') ?? which('clang');
    assert.ok(clang, 'clang is not installed: apt-get install clang-14 (required for the arm64 half of this test)');
    const t0 = Date.now();
    // -nostdlibinc keeps clang's own stddef.h but drops the Linux system headers: windows.h comes from mingw-w64.
    const values = compileAndRead(clang!, ['--target=aarch64-w64-mingw32', '-nostdlibinc', '-isystem', '/usr/share/mingw-w64/include'],
      which('llvm-nm-14') ?? which('llvm-nm') ?? 'llvm-nm', src, dir);
    console.log(`      (clang arm64 compile + nm: ${Date.now() - t0} ms, ${values.size} values)`);
    const wrong = all.filter((l) => values.get(l.symbol) !== l.koffi).map((l) => `${l.symbol}: C ${values.get(l.symbol)}, koffi ${l.koffi}`);
    assert.deepStrictEqual(wrong, []);
    assert.strictEqual(values.size, all.length);
  });
});
