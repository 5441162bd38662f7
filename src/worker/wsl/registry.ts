// The WSL distributions registered for this user, read from HKCU\Software\Microsoft\Windows\CurrentVersion\Lxss
// through advapi32 (RegOpenKeyExW, RegEnumKeyExW, RegQueryValueExW, RegCloseKey) with koffi. Windows only.
import type * as KoffiNS from 'koffi';
import type { LxssEntry } from './find';

const HKEY_CURRENT_USER = -0x7fffffff; // (HKEY)(ULONG_PTR)(LONG)0x80000001: sign-extended on 64-bit
const KEY_READ = 0x20019;
const ERROR_SUCCESS = 0, ERROR_FILE_NOT_FOUND = 2, ERROR_MORE_DATA = 234, ERROR_NO_MORE_ITEMS = 259;
const REG_SZ = 1, REG_EXPAND_SZ = 2, REG_DWORD = 4;
export const LXSS_KEY = 'Software\\Microsoft\\Windows\\CurrentVersion\\Lxss';

interface Reg {
  open(key: number, sub: string, opts: number, sam: number, out: [number]): number;
  enumKey(key: number, i: number, name: Buffer, chars: [number], r: null, c: null, cc: null, t: null): number;
  query(key: number, name: string, r: null, type: [number], data: Buffer | null, size: [number]): number;
  close(key: number): number;
}
let reg: Reg | null = null;

function bind(): Reg {
  if (reg) return reg;
  // loaded here, not at import: on Linux this module is bundled but never bound, and koffi costs ~25 ms of start-up
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi: typeof KoffiNS = require('koffi');
  const adv = koffi.load('advapi32.dll');
  reg = {
    open: adv.func('long __stdcall RegOpenKeyExW(intptr_t hKey, const char16_t *sub, uint32_t opts, uint32_t sam, _Out_ intptr_t *out)') as Reg['open'],
    enumKey: adv.func('long __stdcall RegEnumKeyExW(intptr_t hKey, uint32_t i, _Out_ uint8_t *name, _Inout_ uint32_t *chars, void *r, void *c, void *cc, void *t)') as Reg['enumKey'],
    query: adv.func('long __stdcall RegQueryValueExW(intptr_t hKey, const char16_t *name, void *r, _Out_ uint32_t *type, _Out_ uint8_t *data, _Inout_ uint32_t *size)') as Reg['query'],
    close: adv.func('long __stdcall RegCloseKey(intptr_t hKey)') as Reg['close'],
  };
  return reg;
}

/** Every {GUID} subkey of Lxss with its values; [] when WSL was never set up (no Lxss key). */
export function readLxss(): LxssEntry[] {
  const r = bind();
  const root: [number] = [0];
  const rc = r.open(HKEY_CURRENT_USER, LXSS_KEY, 0, KEY_READ, root);
  if (rc === ERROR_FILE_NOT_FOUND) return [];
  if (rc !== ERROR_SUCCESS) throw new Error(`RegOpenKeyExW(HKCU\\${LXSS_KEY}) failed with ${rc}`);
  const out: LxssEntry[] = [];
  try {
    for (let i = 0; i < 1024; i++) {
      const name = Buffer.alloc(512), chars: [number] = [256];
      const e = r.enumKey(root[0], i, name, chars, null, null, null, null);
      if (e === ERROR_NO_MORE_ITEMS) break;
      if (e !== ERROR_SUCCESS) throw new Error(`RegEnumKeyExW failed with ${e}`);
      const guid = name.toString('utf16le', 0, chars[0] * 2);
      const sub: [number] = [0];
      if (r.open(root[0], guid, 0, KEY_READ, sub) !== ERROR_SUCCESS) continue;
      try {
        const s = (v: string) => { const x = value(r, sub[0], v); return typeof x === 'string' ? x : undefined; };
        const flags = value(r, sub[0], 'Flags');
        out.push({ guid, name: s('DistributionName'), basePath: s('BasePath'), vhdFileName: s('VhdFileName'), flags: typeof flags === 'number' ? flags : undefined });
      } finally { r.close(sub[0]); }
    }
  } finally { r.close(root[0]); }
  return out;
}

function value(r: Reg, key: number, name: string): string | number | undefined {
  const type: [number] = [0], size: [number] = [0];
  let rc = r.query(key, name, null, type, null, size);
  if (rc !== ERROR_SUCCESS && rc !== ERROR_MORE_DATA) return undefined;
  const data = Buffer.alloc(Math.min(size[0], 65536) + 2);
  size[0] = data.length - 2;
  rc = r.query(key, name, null, type, data, size);
  if (rc !== ERROR_SUCCESS) return undefined;
  if (type[0] === REG_DWORD && size[0] >= 4) return data.readUInt32LE(0);
  if (type[0] === REG_SZ || type[0] === REG_EXPAND_SZ) return data.toString('utf16le', 0, size[0] & ~1).replace(/\0.*$/s, '');
  return undefined;
}
