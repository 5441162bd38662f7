// GUIDs as lowercase strings. VHDX (and GPT) store them in Microsoft's mixed-endian layout;
// VHD stores its unique ids in plain byte order (what libvhdi and Hyper-V print).
import * as crypto from 'crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const LE_ORDER = [3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15];
const BE_ORDER = [0, 1, 2, 3, -1, 4, 5, -1, 6, 7, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15];

function format(b: Buffer, off: number, order: number[]): string {
  let s = '';
  for (const i of order) s += i < 0 ? '-' : HEX[b[off + i]];
  return s;
}

/** Mixed-endian (Data1/2/3 little-endian) GUID at `off` as "xxxxxxxx-xxxx-...". */
export function guidLE(b: Buffer, off = 0): string {
  return format(b, off, LE_ORDER);
}

/** Byte-order GUID (VHD unique id). */
export function guidBE(b: Buffer, off = 0): string {
  return format(b, off, BE_ORDER);
}

const GUID_RE = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i;

export function isGuid(s: string): boolean {
  return GUID_RE.test(s.trim());
}

/** "{...}" or bare GUID text -> lowercase bare form, or null. */
export function normalizeGuid(s: string): string | null {
  const m = GUID_RE.exec(s.trim());
  return m ? m.slice(1, 6).join('-').toLowerCase() : null;
}

export function guidToBytesLE(g: string): Buffer {
  const n = normalizeGuid(g);
  if (!n) throw new Error(`not a GUID: ${g}`);
  const b = Buffer.from(n.replace(/-/g, ''), 'hex');
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

export function guidToBytesBE(g: string): Buffer {
  const n = normalizeGuid(g);
  if (!n) throw new Error(`not a GUID: ${g}`);
  return Buffer.from(n.replace(/-/g, ''), 'hex');
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

export function randomGuid(): string {
  return crypto.randomUUID();
}
