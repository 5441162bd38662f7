// VHD (Virtual PC / Hyper-V gen 1): footer, dynamic header, BAT summary and parent locators.
// All fields big-endian. See ../shared/docs/virtdisk-reference.md section 6.
import { RangeReader, u64be } from '../reader';
import { guidBE } from '../guid';
import { problem } from '../problems';
import { readPartitionTable } from '../partitions';
import { ParsedImage, baseParsed, cstr, isPow2 } from '../types';

export const VHD_COOKIE = 'conectix';
export const DYN_COOKIE = 'cxsparse';
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);
/** Locator payloads are paths: anything longer than this is hostile. */
const MAX_LOCATOR_BYTES = 65536;
/** BATs larger than this are not summarised (2M entries = a 4 TiB disk at 2 MiB blocks). */
const MAX_BAT_BYTES = 8 * 1024 * 1024;

/** One's complement of the byte sum, with the 4-byte checksum field counted as zero. */
export function vhdChecksum(b: Buffer, at: number): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) if (i < at || i >= at + 4) sum += b[i];
  return ~sum >>> 0;
}

export interface VhdFooter {
  features: number;
  version: number;
  dataOffset: number | null;
  timestamp: number;
  creatorApp: string;
  creatorVersion: number;
  creatorHost: string;
  originalSize: number | null;
  currentSize: number | null;
  cylinders: number;
  heads: number;
  sectors: number;
  diskType: number;
  checksum: number;
  checksumOk: boolean;
  uniqueId: string;
  savedState: number;
}

export function isVhdFooter(b: Buffer | null): boolean {
  return !!b && b.length >= 512 && b.toString('latin1', 0, 8) === VHD_COOKIE;
}

export function parseFooter(b: Buffer): VhdFooter {
  const dataOffsetRaw = b.readBigUInt64BE(16);
  return {
    features: b.readUInt32BE(8),
    version: b.readUInt32BE(12),
    dataOffset: dataOffsetRaw === 0xffffffffffffffffn ? null : u64be(b, 16),
    timestamp: b.readUInt32BE(24),
    creatorApp: b.toString('latin1', 28, 32),
    creatorVersion: b.readUInt32BE(32),
    creatorHost: b.toString('latin1', 36, 40),
    originalSize: u64be(b, 40),
    currentSize: u64be(b, 48),
    cylinders: b.readUInt16BE(56),
    heads: b.readUInt8(58),
    sectors: b.readUInt8(59),
    diskType: b.readUInt32BE(60),
    checksum: b.readUInt32BE(64),
    checksumOk: vhdChecksum(b.subarray(0, 512), 64) === b.readUInt32BE(64),
    uniqueId: guidBE(b, 68),
    savedState: b.readUInt8(84),
  };
}

/** Virtual size as Windows/qemu read it: current size, except CHS for Virtual PC and old qemu. */
export function vhdVirtualSize(f: VhdFooter): number {
  const chs = f.cylinders * f.heads * f.sectors * 512;
  const maxChs = f.cylinders === 65535 && f.heads === 16 && f.sectors === 255;
  if ((f.creatorApp === 'vpc ' || f.creatorApp === 'qemu') && !maxChs) return chs;
  return f.currentSize ?? 0;
}

export interface VhdLocator {
  code: string;
  dataSpace: number;
  dataLength: number;
  offset: number;
  value: string | null;
}

export interface VhdDynamicHeader {
  tableOffset: number | null;
  headerVersion: number;
  maxTableEntries: number;
  blockSize: number;
  checksumOk: boolean;
  parentUniqueId: string;
  parentTimestamp: number;
  parentName: string;
  locators: VhdLocator[];
}

export function parseDynamicHeader(b: Buffer): VhdDynamicHeader {
  const locators: VhdLocator[] = [];
  for (let i = 0; i < 8; i++) {
    const o = 576 + i * 24;
    const code = b.readUInt32BE(o);
    if (code === 0) continue;
    locators.push({
      code: b.toString('latin1', o, o + 4),
      dataSpace: b.readUInt32BE(o + 4),
      dataLength: b.readUInt32BE(o + 8),
      offset: u64be(b, o + 16) ?? -1,
      value: null,
    });
  }
  return {
    tableOffset: u64be(b, 16),
    headerVersion: b.readUInt32BE(24),
    maxTableEntries: b.readUInt32BE(28),
    blockSize: b.readUInt32BE(32),
    checksumOk: vhdChecksum(b.subarray(0, 1024), 36) === b.readUInt32BE(36),
    parentUniqueId: guidBE(b, 40),
    parentTimestamp: b.readUInt32BE(56),
    parentName: utf16beString(b.subarray(64, 576)),
    locators,
  };
}

export function utf16beString(b: Buffer): string {
  const even = b.subarray(0, b.length & ~1);
  const sw = Buffer.from(even).swap16();
  return cstr(sw, 'utf16le');
}

export function decodeLocator(code: string, data: Buffer): string {
  switch (code) {
    case 'W2ru': case 'W2ku': return cstr(data.subarray(0, data.length & ~1), 'utf16le');
    case 'Wi2r': case 'Wi2k': return cstr(data, 'latin1');
    case 'MacX': {
      const s = cstr(data, 'utf8');
      try {
        return s.startsWith('file://') ? decodeURIComponent(new URL(s).pathname) : s;
      } catch {
        return s;
      }
    }
    default: return cstr(data, 'latin1');
  }
}

const stamp = (s: number) => new Date(VHD_EPOCH_MS + s * 1000).toISOString();

export async function inspectVhd(r: RangeReader): Promise<ParsedImage> {
  const tail = r.size >= 512 ? await r.readExact(r.size - 512, 512) : null;
  const head = await r.readExact(0, 512);
  const p = baseParsed('vhd', 0);
  let footerBuf: Buffer;
  if (tail && isVhdFooter(tail)) {
    footerBuf = tail;
  } else if (head && isVhdFooter(head)) {
    footerBuf = head;
    p.problems.push(problem('footer-missing', 'using the footer copy at offset 0'));
  } else if (r.size < 512) {
    // detection saw "conectix" at 0, but the footer copy itself is cut short
    p.problems.push(problem('truncated', `${r.size} bytes is shorter than one 512-byte VHD footer`));
    return p;
  } else {
    throw new Error('not a VHD');
  }
  let f = parseFooter(footerBuf);
  const tailSound = footerBuf === tail && f.checksumOk;
  if (!f.checksumOk && footerBuf === tail && head && isVhdFooter(head) && parseFooter(head).checksumOk) {
    p.problems.push(problem('footer-checksum', 'the footer at the end is damaged; using the copy at offset 0'));
    f = parseFooter(head);
  } else if (!f.checksumOk) {
    p.problems.push(problem('footer-checksum', `stored 0x${f.checksum.toString(16)}`));
  }
  p.virtualSize = vhdVirtualSize(f);
  p.id = f.uniqueId;
  p.creator = f.creatorApp.replace(/[\s\0]+$/, '') || null;
  p.details = {
    diskType: f.diskType, creatorApp: f.creatorApp, creatorVersion: `${f.creatorVersion >>> 16}.${f.creatorVersion & 0xffff}`,
    creatorHost: f.creatorHost, currentSize: f.currentSize, originalSize: f.originalSize,
    geometry: { cylinders: f.cylinders, heads: f.heads, sectors: f.sectors }, timestamp: stamp(f.timestamp),
    savedState: f.savedState !== 0,
  };
  if (f.currentSize === null || f.originalSize === null) p.problems.push(problem('bad-header', 'disk size does not fit 2^53'));

  if (f.diskType === 2) {
    p.subtype = 'fixed';
    const dataSize = r.size - 512;
    p.details.dataOffset = 0;
    p.details.dataSize = dataSize;
    if (p.virtualSize > dataSize) p.problems.push(problem('truncated', `${p.virtualSize} bytes declared, ${dataSize} present`));
    // the data is a plain byte range: its partition table is as readable as a raw image's
    p.details.partitionTable = await readPartitionTable(r, 0, dataSize, p.problems);
    return p;
  }
  if (f.diskType !== 3 && f.diskType !== 4) {
    p.problems.push(problem('bad-header', `unknown disk type ${f.diskType}`));
    return p;
  }
  p.subtype = f.diskType === 3 ? 'dynamic' : 'differencing';
  // qemu reads the copy at 0, Windows the end: two different copies make two different disks. A damaged end footer
  // is already footer-checksum (and the copy is what we read), so only a sound one is compared with its copy.
  if (footerBuf === tail && tailSound && (!head || !head.equals(tail))) {
    p.problems.push(problem('bad-header', `the footer copy at offset 0 ${head && isVhdFooter(head) ? 'differs from the footer at the end' : 'is missing'}`));
  }
  await readDynamic(r, f, p);
  return p;
}

async function readDynamic(r: RangeReader, f: VhdFooter, p: ParsedImage): Promise<void> {
  if (f.dataOffset === null || f.dataOffset < 512 || f.dataOffset + 1024 > r.size) {
    const bad = f.dataOffset !== null && f.dataOffset + 1024 > r.size;
    p.problems.push(problem(bad ? 'truncated' : 'bad-header', `dynamic header offset ${f.dataOffset}`));
    return;
  }
  const hb = (await r.readExact(f.dataOffset, 1024))!;
  if (hb.toString('latin1', 0, 8) !== DYN_COOKIE) {
    p.problems.push(problem('bad-header', `no "${DYN_COOKIE}" at offset ${f.dataOffset}`));
    return;
  }
  const h = parseDynamicHeader(hb);
  if (!h.checksumOk) p.problems.push(problem('header-checksum', 'dynamic disk header'));
  if (!isPow2(h.blockSize) || h.blockSize < 512 || h.blockSize > 2 ** 31) {
    p.problems.push(problem('bad-header', `block size ${h.blockSize}`));
  } else {
    p.blockSize = h.blockSize;
  }
  p.details.batOffset = h.tableOffset;
  p.details.batEntries = h.maxTableEntries;
  p.details.headerVersion = `${h.headerVersion >>> 16}.${h.headerVersion & 0xffff}`;
  if (p.blockSize) await summariseBat(r, h, p.blockSize, p);

  for (const loc of h.locators) {
    if (loc.dataLength === 0) continue;
    if (loc.offset < 0 || loc.dataLength > MAX_LOCATOR_BYTES || loc.offset + loc.dataLength > r.size) {
      p.problems.push(problem('bad-header', `parent locator ${loc.code} points outside the file`));
      continue;
    }
    loc.value = decodeLocator(loc.code, (await r.readExact(loc.offset, loc.dataLength))!);
  }
  p.details.locators = h.locators;
  if (f.diskType !== 4) return;
  p.details.parentTimestamp = h.parentTimestamp ? stamp(h.parentTimestamp) : null;
  const val = (code: string) => h.locators.find((l) => l.code === code && l.value)?.value ?? undefined;
  const locators: { relative?: string; absolute?: string } = {};
  const rel = val('W2ru') ?? val('Wi2r');
  const abs = val('W2ku') ?? val('Wi2k') ?? val('MacX');
  if (rel !== undefined) locators.relative = rel;
  if (abs !== undefined) locators.absolute = abs;
  p.parent = { id: h.parentUniqueId, name: h.parentName || null, locators };
}

async function summariseBat(r: RangeReader, h: VhdDynamicHeader, blockSize: number, p: ParsedImage): Promise<void> {
  const needed = Math.ceil(p.virtualSize / blockSize);
  if (h.maxTableEntries < needed) {
    p.problems.push(problem('bat-out-of-range', `${h.maxTableEntries} entries for ${needed} blocks`));
  }
  const batBytes = h.maxTableEntries * 4;
  if (h.tableOffset === null || h.tableOffset + batBytes > r.size) {
    p.problems.push(problem('truncated', `BAT at ${h.tableOffset} (${batBytes} bytes) beyond the end of the file`));
    return;
  }
  if (batBytes > MAX_BAT_BYTES) {
    p.details.allocatedBlocks = null;
    return;
  }
  const bat = (await r.readExact(h.tableOffset, batBytes))!;
  const bitmapBytes = Math.ceil(blockSize / 512 / 8 / 512) * 512;
  const dataEnd = r.size - 512;
  let allocated = 0;
  let outside = 0;
  for (let i = 0; i < h.maxTableEntries; i++) {
    const s = bat.readUInt32BE(i * 4);
    if (s === 0xffffffff) continue;
    allocated++;
    if (s * 512 + bitmapBytes + blockSize > dataEnd) outside++;
  }
  p.details.allocatedBlocks = allocated;
  if (outside) p.problems.push(problem('bat-out-of-range', `${outside} block(s) end beyond the data area`));
}
