// exFAT directory entries (specification, sections 6 and 7): a folder's bytes as entry sets. A set is a File entry
// (0x85), its Stream Extension (0xC0) and File Name entries (0xC1), then any benign secondaries, checked by its set
// checksum. The root folder also holds the Allocation Bitmap, Up-case Table and Volume Label entries.


export type ExfatEntry =
  | { kind: 'label'; label: string }
  | {
    kind: 'file'; name: string; directory: boolean; attributes: number;
    /** Last modification, milliseconds since the epoch (UTC when the entry records its offset; else as stored). */
    mtime: number; firstCluster: number; noFatChain: boolean; validLength: number; length: number;
  };

const FILE = 0x85, STREAM = 0xc0, NAME = 0xc1, LABEL = 0x83;
export const ATTR_DIRECTORY = 0x10;

export function setChecksum(b: Uint8Array, at: number, entries: number): number {
  let sum = 0;
  for (let i = 0; i < entries * 32; i++) {
    if (i === 2 || i === 3) continue;
    sum = (((sum & 1) ? 0x8000 : 0) + (sum >> 1) + b[at + i]) & 0xffff;
  }
  return sum;
}

/**
 * Every entry set in a folder's bytes, up to its end-of-directory entry (type 0). A damaged set (bad checksum,
 * impossible counts or name) is skipped and `damaged` says which and why: the rest of the folder still reads.
 */
export function parseEntrySets(b: Uint8Array, where: string, root: boolean, damaged: (what: string) => void): ExfatEntry[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: ExfatEntry[] = [];
  // after a damaged primary entry, its secondaries (in use, type bit 6 set) are skipped with it
  let skipping = false;
  for (let at = 0; at + 32 <= b.length;) {
    const type = b[at];
    if (type === 0) break;
    const bad = (what: string, name?: string) => damaged(`entry ${at / 32}${name ? ` (${JSON.stringify(name)})` : ''}: ${what}`);
    if (skipping && (type & 0xc0) === 0xc0) { at += 32; continue; }
    skipping = false;
    if (type === LABEL && root) {
      const n = b[at + 1];
      if (n > 11) bad(`volume label of ${n} characters (at most 11)`);
      else out.push({ kind: 'label', label: utf16(b, at + 2, n) });
      at += 32; continue;
    }
    if (type !== FILE) {
      // unused (in-use bit clear), the bitmap and up-case table, benign primaries: nothing to show. A lone
      // critical secondary (stream, name) outside a set is damage.
      if (type === STREAM || type === NAME) bad(`a ${type === STREAM ? 'stream extension' : 'file name'} entry outside a file's entry set`);
      at += 32; continue;
    }
    const secondaries = b[at + 1];
    if (secondaries < 2 || secondaries > 18) { bad(`file entry with ${secondaries} secondary entries (2 to 18)`); skipping = true; at += 32; continue; }
    if (at + (secondaries + 1) * 32 > b.length) { bad('entry set runs past the end of the folder'); break; }
    const next = at + (secondaries + 1) * 32;
    const s = at + 32;
    const nameLength = b[s + 3];
    const nameEntries = Math.ceil(nameLength / 15);
    // the name as far as it can be read, to say which entry is damaged
    let name = '';
    for (let k = 0; k < Math.min(nameEntries, secondaries - 1) && b[s + 32 * (k + 1)] === NAME; k++) name += utf16(b, s + 32 * (k + 1) + 2, Math.min(15, nameLength - 15 * k));
    const skip = (what: string) => { bad(what, name || undefined); at = next; };
    if (setChecksum(b, at, secondaries + 1) !== dv.getUint16(at + 2, true)) { skip('entry set checksum mismatch'); continue; }
    if (b[s] !== STREAM) { skip('file entry not followed by its stream extension'); continue; }
    if (nameLength < 1 || nameEntries > secondaries - 1) { skip(`name of ${nameLength} characters in ${secondaries - 1} name entries`); continue; }
    if (name.length !== nameLength) { skip(`entry ${Math.floor(name.length / 15) + 2} of the set is not a file name entry`); continue; }
    if (name === '.' || name === '..' || /[/\0]/.test(name)) { skip(`file name ${JSON.stringify(name)} is not allowed`); continue; }
    const flags = b[s + 1];
    const attributes = dv.getUint16(at + 4, true);
    const validLength = Number(dv.getBigUint64(s + 8, true));
    const length = Number(dv.getBigUint64(s + 24, true));
    if (!Number.isSafeInteger(length) || !Number.isSafeInteger(validLength)) { skip(`size ${dv.getBigUint64(s + 24, true)} is too large`); continue; }
    out.push({
      kind: 'file', name, attributes, directory: (attributes & ATTR_DIRECTORY) !== 0,
      mtime: timestamp(dv.getUint32(at + 12, true), b[at + 21], b[at + 23]),
      firstCluster: dv.getUint32(s + 20, true), noFatChain: (flags & 2) !== 0, validLength, length,
    });
    at = next;
  }
  return out;
}

function utf16(b: Uint8Array, at: number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += String.fromCharCode(b[at + 2 * i] | (b[at + 2 * i + 1] << 8));
  return s;
}

/** A DOS date-time, its 10 ms increment (0-199) and UTC offset byte (bit 7: valid; 7-bit signed, 15-minute steps). */
export function timestamp(ts: number, tenMs: number, utcOffset: number): number {
  const year = 1980 + (ts >>> 25), month = (ts >>> 21) & 15, day = (ts >>> 16) & 31;
  const hour = (ts >>> 11) & 31, minute = (ts >>> 5) & 63, second = (ts & 31) * 2;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return 0;
  let t = Date.UTC(year, month - 1, day, hour, minute, second) + (tenMs <= 199 ? tenMs * 10 : 0);
  if (utcOffset & 0x80) {
    const q = utcOffset & 0x7f;
    t -= (q & 0x40 ? q - 0x80 : q) * 15 * 60_000;
  }
  return t;
}
