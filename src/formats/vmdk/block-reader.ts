// The virtual disk of a VMDK: a hosted sparse extent ("KDMV": grain directory -> grain tables -> grains, optionally
// deflate-compressed with grain markers as streamOptimized writes them, the footer's directory when the header says
// GD_AT_END) on its own (monolithicSparse, streamOptimized), or the extents a text descriptor names (FLAT, SPARSE
// and ZERO: monolithicFlat, twoGbMaxExtentSparse/Flat), and a parent named by parentFileNameHint whose CID must be
// the child's parentCID. ESX-only extent types (VMFSSPARSE, SESPARSE, raw device maps) are refused by name.
import * as zlib from 'zlib';
import type { BlockReader } from '../block';
import { ByteLru, MappedDisk, PagedTable, Piece, corrupt, readExact, u64 } from '../block-map';
import { FormatError } from '../errors';
import { LayerContext, LayerFile, resolveNamed } from '../layer-files';
import { MAX_DESCRIPTOR_BYTES, VMDK_MAGIC, parseDescriptor } from './inspect';

const CACHE_BYTES = 4 * 1024 * 1024;
const GD_AT_END = 0xffffffffffffffffn;
const FLAG_ZERO_GRAIN = 1 << 2, FLAG_COMPRESSED = 1 << 16, FLAG_MARKERS = 1 << 17;
const MAX_EXTENTS = 4096;
const EXTENT_LINE = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/;

class SparseExtent {
  readonly grainBytes: number;
  private readonly gtes: number;
  private readonly gd: PagedTable;
  private readonly zeroGrain: boolean;
  private readonly compressed: boolean;
  private readonly markers: boolean;

  constructor(readonly file: LayerFile, private readonly cache: ByteLru<string, Buffer>) {
    const p = file.path;
    let h = readExact(file, 0, 512, 'sparse extent header');
    const magic = h.toString('latin1', 0, 4);
    if (magic === 'COWD') throw new FormatError('unsupported', `${p}: ESX "COWD" sparse extents (vmfsSparse) are not read`);
    if (magic !== VMDK_MAGIC) throw corrupt(p, 'no "KDMV" sparse extent header');
    if (h.readBigUInt64LE(56) === GD_AT_END) {
      // streamOptimized: the real header is the footer, 1 KiB before the end (after a footer marker)
      const f = file.size >= 1536 ? readExact(file, file.size - 1024, 512, 'stream-optimized footer') : null;
      if (!f || f.toString('latin1', 0, 4) !== VMDK_MAGIC || f.readBigUInt64LE(56) === GD_AT_END) throw corrupt(p, 'the stream-optimized footer is missing or damaged');
      h = f;
    }
    const version = h.readUInt32LE(4), flags = h.readUInt32LE(8);
    const capacity = u64(h.readBigUInt64LE(12)), grain = u64(h.readBigUInt64LE(20));
    const gtes = h.readUInt32LE(44), gdSector = u64(h.readBigUInt64LE(56));
    if (version < 1 || version > 3) throw new FormatError('unsupported', `${p}: sparse extent version ${version}`);
    if (capacity === null || !Number.isSafeInteger(capacity * 512)) throw corrupt(p, `capacity ${h.readBigUInt64LE(12)}`);
    if (grain === null || grain < 1 || grain > 2048 || (grain & (grain - 1)) !== 0) throw corrupt(p, `grain size ${h.readBigUInt64LE(20)} sectors`);
    if (gtes < 1 || gtes > 512) throw corrupt(p, `${gtes} entries per grain table`);
    if (gdSector === null || !Number.isSafeInteger(gdSector * 512)) throw corrupt(p, 'grain directory offset');
    this.compressed = (flags & FLAG_COMPRESSED) !== 0;
    if (this.compressed && h.readUInt16LE(77) !== 1) throw new FormatError('unsupported', `${p}: compression algorithm ${h.readUInt16LE(77)} (only deflate is read)`);
    this.markers = (flags & FLAG_MARKERS) !== 0;
    this.zeroGrain = (flags & FLAG_ZERO_GRAIN) !== 0;
    this.grainBytes = grain * 512;
    this.gtes = gtes;
    const gdEntries = Math.ceil(capacity / (gtes * grain));
    if (gdEntries > 32 * 1024 * 1024) throw corrupt(p, `grain directory of ${gdEntries} entries`);
    this.gd = new PagedTable(file, gdSector * 512, gdEntries, 4, cache, 'grain directory');
    this.capacity = capacity * 512;
  }

  readonly capacity: number;

  private async grainTable(gdi: number): Promise<Buffer | null> {
    if (gdi >= this.gd.count) return null;
    const [page, at] = await this.gd.at(gdi);
    const sector = page.readUInt32LE(at);
    if (sector === 0) return null;
    return this.cache.through(`gt@${this.file.path}@${sector}`, () => readExact(this.file, sector * 512, this.gtes * 4, 'grain table'));
  }

  /** Offset within this extent; 'parent' where the grain is not allocated. */
  async map(offset: number, length: number): Promise<Piece> {
    const gb = this.grainBytes;
    if (offset >= this.capacity) return { kind: 'zero', length };
    length = Math.min(length, this.capacity - offset);
    const g = Math.floor(offset / gb);
    const inGrain = offset - g * gb;
    let gti = g % this.gtes;
    const gt = await this.grainTable(Math.floor(g / this.gtes));
    if (!gt) return { kind: 'parent', length: Math.min(length, (this.gtes - gti) * gb - inGrain) };
    const kindOf = (sector: number) => (sector === 0 ? 'parent' : sector === 1 && this.zeroGrain ? 'zero' : 'data');
    const first = gt.readUInt32LE(gti * 4);
    const k = kindOf(first);
    if (k === 'data' && this.compressed) return this.compressedGrain(first, inGrain, Math.min(length, gb - inGrain));
    let len = gb - inGrain;
    while (len < length && ++gti < this.gtes) {
      const s = gt.readUInt32LE(gti * 4);
      if (kindOf(s) !== k || (k === 'data' && s * 512 !== first * 512 + inGrain + len)) break;
      len += gb;
    }
    len = Math.min(len, length);
    if (k === 'data') return { kind: 'file', length: len, file: this.file, pos: first * 512 + inGrain };
    return { kind: k, length: len };
  }

  private async compressedGrain(sector: number, inGrain: number, length: number): Promise<Piece> {
    const gb = this.grainBytes;
    const bytes = await this.cache.through(`cg@${this.file.path}@${sector}`, () => {
      const pos = sector * 512;
      const avail = Math.max(0, Math.min(2 * gb + 12, this.file.size - pos));
      if (avail <= 12) throw corrupt(this.file.path, `compressed grain at sector ${sector} lies beyond the end of the file`);
      const buf = readExact(this.file, pos, avail, 'compressed grain');
      let data = buf;
      if (this.markers) {
        const size = buf.readUInt32LE(8);
        if (size === 0 || size > avail - 12) throw corrupt(this.file.path, `grain marker at sector ${sector} claims ${size} bytes`);
        data = buf.subarray(12, 12 + size);
      }
      try {
        return zlib.inflateSync(data, { maxOutputLength: gb, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } catch (e) {
        throw corrupt(this.file.path, `compressed grain at sector ${sector} does not inflate to one grain (${(e as Error).message})`);
      }
    });
    return { kind: 'bytes', length, bytes, at: inGrain };
  }
}

interface Extent { start: number; length: number; kind: 'zero' | 'flat' | 'sparse'; file?: LayerFile; base?: number; sparse?: SparseExtent }

class VmdkDisk extends MappedDisk {
  constructor(layer: string, size: number, private readonly extents: Extent[], parent: BlockReader | null, files: LayerFile[]) {
    super(size, 512, parent, files, layer);
  }

  protected async map(offset: number, length: number): Promise<Piece> {
    let lo = 0, hi = this.extents.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.extents[mid].start <= offset) lo = mid; else hi = mid - 1;
    }
    const x = this.extents[lo];
    const inX = offset - x.start;
    const run = Math.min(length, x.length - inX);
    if (x.kind === 'zero') return { kind: 'zero', length: run };
    if (x.kind === 'flat') return { kind: 'file', length: run, file: x.file!, pos: x.base! + inX };
    const p = await x.sparse!.map(inX, run);
    return p.kind === 'file' ? p : p.kind === 'parent' ? { kind: 'parent', length: p.length } : p;
  }
}

export async function openVmdkBlocks(file: LayerFile, ctx: LayerContext): Promise<BlockReader> {
  const cache = new ByteLru<string, Buffer>(CACHE_BYTES);
  const files: LayerFile[] = [file];
  const extents: Extent[] = [];
  let parent: BlockReader | null = null;
  try {
    const head = readExact(file, 0, Math.min(512, file.size), 'header');
    let descText: string;
    if (head.toString('latin1', 0, 4) === VMDK_MAGIC) {
      const sp = new SparseExtent(file, cache);
      extents.push({ start: 0, length: sp.capacity, kind: 'sparse', sparse: sp });
      const descOff = u64(head.readBigUInt64LE(28)), descSize = u64(head.readBigUInt64LE(36));
      descText = descOff && descSize && descSize * 512 <= MAX_DESCRIPTOR_BYTES && (descOff + descSize) * 512 <= file.size
        ? readExact(file, descOff * 512, descSize * 512, 'embedded descriptor').toString('utf8') : '';
    } else {
      if (file.size > MAX_DESCRIPTOR_BYTES) throw corrupt(file.path, 'a VMDK descriptor file larger than 64 KiB');
      descText = readExact(file, 0, file.size, 'descriptor').toString('utf8');
      await addExtents(file, descText, ctx, cache, files, extents);
    }
    const d = parseDescriptor(descText);
    const parentCid = d.fields.parentCID?.toLowerCase();
    if (parentCid && parentCid !== 'ffffffff') {
      const hint = d.fields.parentFileNameHint;
      if (!hint) throw new FormatError('chain-broken', `${file.path}: a child disk (parentCID ${parentCid}) that names no parent file`);
      const opened = await ctx.openImage({ path: resolveNamed(file.path, hint), role: 'parent', from: file.path }, 'vmdk');
      parent = opened.disk;
      if (opened.id !== parentCid) {
        throw new FormatError('chain-broken', `${file.path}: its parent ${opened.path} has CID ${opened.id}, the child expects ${parentCid} (the parent was modified or replaced)`);
      }
    }
    const size = extents.reduce((s, x) => s + x.length, 0);
    if (!extents.length || !Number.isSafeInteger(size)) throw corrupt(file.path, 'the descriptor names no usable extent');
    return new VmdkDisk(file.path, size, extents, parent, files);
  } catch (e) {
    for (const f of files.slice(1)) f.close();
    await parent?.close();
    throw e;
  }
}

async function addExtents(file: LayerFile, text: string, ctx: LayerContext, cache: ByteLru<string, Buffer>, files: LayerFile[], out: Extent[]): Promise<void> {
  const byPath = new Map<string, LayerFile>();
  let start = 0;
  for (const raw of text.split('\0')[0].split(/\r?\n/)) {
    const line = raw.trim();
    if (!/^(RW|RDONLY|NOACCESS)\b/.test(line)) continue;
    const m = EXTENT_LINE.exec(line);
    if (!m) throw corrupt(file.path, `invalid extent line ${JSON.stringify(line.slice(0, 80))}`);
    if (out.length >= MAX_EXTENTS) throw corrupt(file.path, `more than ${MAX_EXTENTS} extents`);
    const sectors = Number(m[2]);
    const length = sectors * 512;
    if (!Number.isSafeInteger(length) || !Number.isSafeInteger(start + length)) throw corrupt(file.path, `extent of ${m[2]} sectors`);
    const type = m[3].toUpperCase();
    if (length === 0) continue;
    if (type === 'ZERO') { out.push({ start, length, kind: 'zero' }); start += length; continue; }
    if (type !== 'FLAT' && type !== 'VMFS' && type !== 'SPARSE') {
      throw new FormatError('unsupported', `${file.path}: extent type ${type} (ESX-only) is not read`);
    }
    if (m[4] === undefined || m[4] === '') throw corrupt(file.path, `${type} extent without a file name`);
    const target = resolveNamed(file.path, m[4]);
    let f = byPath.get(target);
    if (!f) {
      f = await ctx.openFile({ path: target, role: 'extent', from: file.path });
      files.push(f);
      byPath.set(target, f);
    }
    if (type === 'SPARSE') {
      out.push({ start, length, kind: 'sparse', sparse: new SparseExtent(f, cache) });
    } else {
      const base = Number(m[5] ?? '0') * 512;
      if (!Number.isSafeInteger(base)) throw corrupt(file.path, `flat extent offset ${m[5]}`);
      out.push({ start, length, kind: 'flat', file: f, base });
    }
    start += length;
  }
}
