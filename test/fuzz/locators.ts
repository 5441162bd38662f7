// Parent-locator and parent-link cases for differencing VHD/VHDX children: locator strings of every length and
// encoding, paths that leave the child's folder, and cyclic links (self, A -> B -> A) with matching ids.
import * as path from 'path';
import { vhdChecksum } from '../../src/formats/vhd/inspect';
import { parentLocatorItem } from '../../src/formats/vhdx/writer';
import { guidLE } from '../../src/formats/guid';
import { Overlay } from './overlay';
import { Rng, int, pick } from './prng';

export interface LinkContext { dir: string; self: string; parent: string; sibling?: string }

/** Path-like texts a hostile or just odd locator may hold. */
function locatorTexts(c: LinkContext): string[] {
  return [
    '', `.\\${c.parent}`, c.parent, `..\\..\\elsewhere\\${c.parent}`, `..\\${path.basename(c.dir)}\\${c.parent}`, path.join(c.dir, c.parent),
    `C:\\Users\\x\\${c.parent}`, `\\\\server\\share\\${c.parent}`, `\\\\?\\C:\\vm\\${c.parent}`, `\\\\?\\UNC\\server\\share\\${c.parent}`,
    `\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\${c.parent}`, `.\\${c.self}`, `.\\${c.sibling ?? c.self}`,
    '/dev/zero', '/proc/self/mem', '/etc/passwd', c.dir, '.', '..', '\\', '/', `a\0b\\${c.parent}`, '../'.repeat(40) + 'etc/passwd',
    `file://${path.join(c.dir, c.parent)}`, 'file:///%E0%A4%A', '%ZZ', '\u{1F4BE}\u00e9\u4e2d.vhd', '\ud800', `${c.parent}\0garbage`,
    `.\\${c.parent}${' '.repeat(3)}`, 'x'.repeat(300),
  ];
}

/** Bytes of a locator payload: a text, then a length/termination/encoding accident. */
export function locatorBytes(r: Rng, c: LinkContext, encoding: 'utf16le' | 'latin1' | 'utf8', dataSpace: number): { bytes: Buffer; desc: string } {
  const text = pick(r, locatorTexts(c));
  let b = Buffer.from(text, encoding);
  const how = int(r, 9);
  let desc = `${JSON.stringify(text.slice(0, 60))} ${encoding}`;
  const fitTo = (n: number) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = b.length ? b[i % b.length] : 0x41;
    return out;
  };
  if (how === 1) { b = Buffer.concat([b, Buffer.alloc(encoding === 'utf16le' ? 2 : 1)]); desc += ' NUL-terminated'; }
  else if (how === 2) { b = Buffer.concat([b, Buffer.from([0x41])]); desc += ' odd length'; }
  else if (how === 3) { const n = pick(r, [0, 1, 2, 3, 5, 7, 255, 256, 511, 513]); b = fitTo(n); desc += ` cut/repeated to ${n} bytes`; }
  else if (how === 4) { const n = Math.max(0, dataSpace + pick(r, [-1, 0, 1, 2, 512])); b = fitTo(n); desc += ` ${n} bytes (data space ${dataSpace})`; }
  else if (how === 5) { const n = pick(r, [65535, 65536, 65537, 70000]); b = fitTo(n); desc += ` ${n} bytes (beyond any data space)`; }
  else if (how === 6) { b = Buffer.concat([b, Buffer.from(pick(r, [[0xff, 0xfe], [0xc3, 0x28], [0x00, 0xd8], [0xed, 0xa0, 0x80], [0x80]]))]); desc += ' + invalid encoding bytes'; }
  else if (how === 7) { b = fitTo(int(r, 600)); desc += ` ${b.length} bytes, unterminated`; }
  return { bytes: b, desc };
}

/** A VHD child's dynamic header offset (from the footer at the end), or -1. */
function vhdDyn(ov: Overlay): number {
  const f = ov.read(ov.size - 512, 512);
  if (f.toString('latin1', 0, 8) !== 'conectix') return -1;
  const d = Number(f.readBigUInt64BE(16));
  return d + 1024 <= ov.size ? d : -1;
}

const sealVhdHeader = (ov: Overlay, d: number) => ov.writeUInt(d + 36, 4, false, BigInt(vhdChecksum(ov.read(d, 1024), 36)));

export function mutateVhdLocator(r: Rng, ov: Overlay, c: LinkContext): string {
  const d = vhdDyn(ov);
  if (d < 0) return 'no dynamic header';
  const slot = r() < 0.8 ? int(r, 2) : int(r, 8);
  const e = d + 576 + slot * 24;
  const code = pick(r, ['W2ru', 'W2ku', 'Wi2r', 'Wi2k', 'MacX', 'W2ru', 'W2ku', '\0\0\0\x01']);
  const enc = code.startsWith('W2') ? 'utf16le' : code === 'MacX' ? 'utf8' : 'latin1';
  const space = Number(ov.readUInt(e + 4, 4, false)) || 512;
  let off = Number(ov.readUInt(e + 16, 8, false));
  if (!off || r() < 0.1) off = pick(r, [0, 512, 1536, ov.size - 512, ov.size - 1]);
  const { bytes, desc } = locatorBytes(r, c, enc, space);
  ov.write(e, Buffer.from(code, 'latin1'));
  const lengthLie = r() < 0.15;
  const len = lengthLie ? pick(r, [0xffffffff, 0x80000000, 65537, bytes.length + 1, bytes.length * 2 + 1]) : bytes.length;
  ov.writeUInt(e + 4, 4, false, BigInt(r() < 0.2 ? pick(r, [0, 1, 0xffffffff, len]) : space));
  ov.writeUInt(e + 8, 4, false, BigInt(len));
  ov.writeUInt(e + 16, 8, false, BigInt(off));
  ov.write(off, bytes);
  if (r() < 0.85) sealVhdHeader(ov, d);
  return `VHD locator slot ${slot} ${code} at ${off}: ${desc}${lengthLie ? `, dataLength ${len}` : ''}`;
}

/** Makes this VHD child name `target` (relative) with the identity `targetId`; the caller expects chain-cycle. */
export function linkVhd(ov: Overlay, target: string, targetId: Buffer): void {
  const d = vhdDyn(ov);
  if (d < 0) return;
  const data = Buffer.from(`.\\${target}`, 'utf16le');
  const e = d + 576;
  const off = Number(ov.readUInt(e + 16, 8, false));
  ov.write(e, Buffer.from('W2ru', 'latin1'));
  ov.writeUInt(e + 4, 4, false, 512n);
  ov.writeUInt(e + 8, 4, false, BigInt(data.length));
  ov.write(off, Buffer.concat([data, Buffer.alloc(512 - data.length)]));
  ov.write(d + 40, targetId);
  sealVhdHeader(ov, d);
}

export const vhdUniqueId = (ov: Overlay) => ov.read(ov.size - 512 + 68, 16);

interface VhdxMeta { meta: number; metaLen: number; entry: number; item: number; itemLen: number }

/** The parent locator item of a VHDX child (via region table 1), or null. */
function vhdxLocator(ov: Overlay): VhdxMeta | null {
  const rt = ov.read(192 * 1024, 16 + 32 * 16);
  let meta = 0, metaLen = 0;
  for (let i = 0; i < Math.min(rt.readUInt32LE(8), 16); i++) {
    const e = 16 + i * 32;
    if (rt.toString('hex', e, e + 4) === '06a27c8b') { meta = Number(rt.readBigUInt64LE(e + 16)); metaLen = rt.readUInt32LE(e + 24); }
  }
  if (!meta || meta + 32 > ov.size) return null;
  const h = ov.read(meta, 32 + 32 * 32);
  for (let i = 0; i < Math.min(h.readUInt16LE(10), 32); i++) {
    const e = 32 + i * 32;
    if (h.toString('hex', e, e + 4) === '2d5fd3a8') return { meta, metaLen, entry: meta + e, item: meta + h.readUInt32LE(e + 16), itemLen: h.readUInt32LE(e + 20) };
  }
  return null;
}

/** Replaces the parent locator item with `item`, growing its table entry's length when the region has room. */
function writeVhdxLocator(ov: Overlay, m: VhdxMeta, item: Buffer): void {
  const room = m.meta + m.metaLen - m.item;
  ov.write(m.item, item.subarray(0, Math.max(0, room)));
  ov.writeUInt(m.entry + 20, 4, true, BigInt(Math.min(item.length, room)));
}

/** The current header's DataWriteGuid, as the child's parent_linkage would name it. */
export function vhdxDataWriteGuid(ov: Overlay): string {
  const h1 = ov.read(64 * 1024, 64), h2 = ov.read(128 * 1024, 64);
  const cur = h2.readBigUInt64LE(8) > h1.readBigUInt64LE(8) ? h2 : h1;
  return `{${guidLE(cur, 32)}}`;
}

export function mutateVhdxLocator(r: Rng, ov: Overlay, c: LinkContext): string {
  const m = vhdxLocator(ov);
  if (!m) return 'no parent locator item';
  const kv: Record<string, string> = Object.create(null);
  const descs: string[] = [];
  const linkage = pick(r, [vhdxDataWriteGuid(ov), '{00000000-0000-0000-0000-000000000000}', 'not-a-guid', '', '{' + 'f'.repeat(300) + '}']);
  if (r() < 0.85) kv.parent_linkage = linkage;
  for (const key of ['relative_path', 'absolute_win32_path', 'volume_path', 'parent_linkage2']) {
    if (r() < 0.5) continue;
    const { bytes, desc } = locatorBytes(r, c, 'utf16le', 512);
    kv[key] = bytes.toString('utf16le').slice(0, 32767); // lengths are 16-bit
    descs.push(`${key}=${desc}`);
  }
  if (r() < 0.15) kv[pick(r, ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'x'.repeat(30000)])] = pick(r, ['1', `.\\${c.parent}`]);
  let item = parentLocatorItem(kv);
  if (r() < 0.3) {
    // a key or value with an odd byte length, or pointing past the item
    item = Buffer.from(item);
    const n = item.readUInt16LE(18);
    if (n) {
      const e = 20 + int(r, n) * 12;
      const which = int(r, 4);
      if (which < 2) item.writeUInt16LE((item.readUInt16LE(e + 8 + which * 2) | 1) & 0xffff, e + 8 + which * 2);
      else item.writeUInt32LE(pick(r, [item.length, item.length - 1, 0xffffffff, 0x7fffffff]), e + (which - 2) * 4);
      descs.push(`entry ${(e - 20) / 12} field ${which} damaged`);
    }
  }
  if (r() < 0.1) { item.writeUInt16LE(pick(r, [0xffff, 2047, 2048]), 18); descs.push('entry count huge'); }
  writeVhdxLocator(ov, m, item);
  return `VHDX parent locator: parent_linkage=${JSON.stringify(kv.parent_linkage?.slice(0, 40) ?? null)} ${descs.join('; ')}`;
}

export function linkVhdx(ov: Overlay, target: string, targetLinkage: string): void {
  const m = vhdxLocator(ov);
  if (!m) return;
  writeVhdxLocator(ov, m, parentLocatorItem({ parent_linkage: targetLinkage, relative_path: `.\\${target}` }));
}

