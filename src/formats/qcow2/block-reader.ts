// The virtual disk of a qcow2 image (versions 2 and 3): L1 -> L2 tables -> clusters, uncompressed or deflate-
// compressed, zero clusters (v3), extended L2 entries with 32 subclusters, a backing file (any format, read where
// this image has nothing) and an external data file. Encryption and zstd compression are refused by name.
import * as zlib from 'zlib';
import type { BlockReader } from '../block';
import { ByteLru, MappedDisk, PagedTable, Piece, corrupt, readExact, u64 } from '../block-map';
import { FormatError } from '../errors';
import { LayerContext, LayerFile, resolveNamed } from '../layer-files';

const CACHE_BYTES = 4 * 1024 * 1024;
const MAX_L1_BYTES = 32 * 1024 * 1024;
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_DATA_FILE = 0x44415441;
const INCOMPAT_CORRUPT = 2n, INCOMPAT_DATA_FILE = 4n, INCOMPAT_COMPRESSION = 8n, INCOMPAT_EXTL2 = 16n;
const KNOWN_INCOMPAT = 0x1fn;
const OFFSET_MASK = 0x00fffffffffffe00n;
/** qemu's driver names for the formats vdisk reads, as a backing format extension names them. */
const QEMU_FORMATS: Record<string, string> = { raw: 'raw', qcow2: 'qcow2', vpc: 'vhd', vhdx: 'vhdx', vmdk: 'vmdk', vdi: 'vdi' };

interface Header {
  clusterBits: number; size: number; l1Size: number; l1Offset: number; extL2: boolean;
  backing: string | null; backingFormat: string | null; dataFile: string | null;
}

function parseHeader(file: LayerFile): Header {
  const p = file.path;
  const h = readExact(file, 0, 104, 'qcow2 header');
  const version = h.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new FormatError('unsupported', `${p}: qcow version ${version} (only 2 and 3 are read)`);
  const clusterBits = h.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) throw corrupt(p, `cluster bits ${clusterBits}`);
  const cluster = 2 ** clusterBits;
  const size = u64(h.readBigUInt64BE(24));
  if (size === null) throw corrupt(p, 'virtual size does not fit 2^53');
  const crypt = h.readUInt32BE(32);
  if (crypt !== 0) throw new FormatError('unsupported', `${p}: the image is encrypted (${crypt === 1 ? 'AES' : crypt === 2 ? 'LUKS' : `method ${crypt}`}); vdisk does not read encrypted qcow2`);
  let incompat = 0n, headerLength = 72;
  if (version === 3) {
    incompat = h.readBigUInt64BE(72);
    headerLength = h.readUInt32BE(100);
    if (headerLength < 104 || headerLength > cluster) throw corrupt(p, `header length ${headerLength}`);
    if (incompat & ~KNOWN_INCOMPAT) throw new FormatError('unsupported', `${p}: unknown incompatible features 0x${(incompat & ~KNOWN_INCOMPAT).toString(16)}`);
    if (incompat & INCOMPAT_CORRUPT) throw corrupt(p, 'the image is marked corrupt (qemu-img check -r all repairs it)');
    if (incompat & INCOMPAT_COMPRESSION) {
      const t = headerLength >= 105 ? readExact(file, 104, 1, 'compression type')[0] : -1;
      if (t !== 0) throw new FormatError('unsupported', `${p}: compression type ${t === 1 ? 'zstd' : t}; vdisk reads zlib (deflate) compressed clusters only`);
    }
  }
  const l1Size = h.readUInt32BE(36);
  const l1Offset = u64(h.readBigUInt64BE(40));
  if (l1Size * 8 > MAX_L1_BYTES) throw corrupt(p, `L1 table of ${l1Size} entries`);
  if (l1Offset === null || l1Offset % cluster !== 0) throw corrupt(p, `L1 table offset 0x${h.readBigUInt64BE(40).toString(16)}`);
  let backing: string | null = null;
  const bOff = u64(h.readBigUInt64BE(8)), bLen = h.readUInt32BE(16);
  if (bOff && bLen) {
    if (bLen > 1023 || bOff + bLen > cluster) throw corrupt(p, 'backing file name outside the first cluster');
    backing = readExact(file, bOff, bLen, 'backing file name').toString('utf8');
  }
  let backingFormat: string | null = null, dataFile: string | null = null;
  const extEnd = bOff && bOff < cluster ? bOff : cluster;
  if (headerLength < extEnd) {
    const x = readExact(file, headerLength, Math.min(extEnd, file.size) - headerLength, 'header extensions');
    for (let o = 0; o + 8 <= x.length;) {
      const magic = x.readUInt32BE(o), len = x.readUInt32BE(o + 4);
      o += 8;
      if (magic === 0) break;
      if (len > x.length - o) throw corrupt(p, `header extension 0x${magic.toString(16)} of ${len} bytes overruns the header`);
      if (magic === EXT_BACKING_FORMAT) backingFormat = x.toString('latin1', o, o + len).replace(/\0.*$/s, '');
      if (magic === EXT_DATA_FILE) dataFile = x.toString('utf8', o, o + len).replace(/\0.*$/s, '');
      o += Math.ceil(len / 8) * 8;
    }
  }
  if (incompat & INCOMPAT_DATA_FILE) {
    if (!dataFile) throw new FormatError('unsupported', `${p}: the image keeps its data in an external file it does not name`);
  } else {
    dataFile = null;
  }
  return { clusterBits, size, l1Size, l1Offset, extL2: (incompat & INCOMPAT_EXTL2) !== 0n, backing, backingFormat, dataFile };
}

class Qcow2Disk extends MappedDisk {
  private readonly cache = new ByteLru<string, Buffer>(CACHE_BYTES);
  private readonly l1: PagedTable;
  private readonly cluster: number;
  private readonly l2Entries: number;
  private readonly entryBytes: number;
  private readonly csizeShift: number;
  private readonly csizeMask: bigint;
  private readonly coffsetMask: bigint;

  constructor(private readonly file: LayerFile, private readonly data: LayerFile, private readonly h: Header, parent: BlockReader | null, files: LayerFile[]) {
    super(h.size, 512, parent, files, file.path);
    this.cluster = 2 ** h.clusterBits;
    this.entryBytes = h.extL2 ? 16 : 8;
    this.l2Entries = this.cluster / this.entryBytes;
    this.l1 = new PagedTable(file, h.l1Offset, h.l1Size, 8, this.cache, 'L1 table');
    this.csizeShift = 62 - (h.clusterBits - 8);
    this.csizeMask = (1n << BigInt(h.clusterBits - 8)) - 1n;
    this.coffsetMask = (1n << BigInt(this.csizeShift)) - 1n;
  }

  private async l2Table(l1i: number): Promise<Buffer | null> {
    if (l1i >= this.l1.count) return null;
    const [page, at] = await this.l1.at(l1i);
    const off = page.readBigUInt64BE(at) & OFFSET_MASK;
    if (off === 0n) return null;
    const pos = Number(off);
    if (pos % this.cluster !== 0) throw corrupt(this.layer, `L2 table offset 0x${off.toString(16)} is not cluster-aligned`);
    return this.cache.through(`l2@${pos}`, () => readExact(this.file, pos, this.cluster, 'L2 table'));
  }

  protected async map(offset: number, length: number): Promise<Piece> {
    const cs = this.cluster;
    const ci = Math.floor(offset / cs);
    const l1i = Math.floor(ci / this.l2Entries);
    let l2i = ci % this.l2Entries;
    const inCl = offset - ci * cs;
    const l2 = await this.l2Table(l1i);
    if (!l2) return { kind: 'parent', length: Math.min(length, (this.l2Entries - l2i) * cs - inCl) };
    const first = this.classify(l2, l2i, inCl);
    if (first.kind === 'compressed') return this.compressed(first.entry, inCl, Math.min(length, cs - inCl));
    // extend over the following clusters of this L2 table while they continue the same run
    let len = first.length;
    while (len < length && !first.sub && ++l2i < this.l2Entries) {
      const next = this.classify(l2, l2i, 0);
      if (next.kind === 'compressed' || next.kind !== first.kind) break;
      if (next.kind === 'file' && next.pos !== first.pos + (len + inCl)) break;
      len += next.length;
      if (next.sub) break;
    }
    len = Math.min(len, length);
    if (first.kind === 'file') return { kind: 'file', length: len, file: this.data, pos: first.pos + inCl };
    return { kind: first.kind, length: len };
  }

  /** What the L2 entry says about the cluster from `inCl` on: a run (to the cluster's or subcluster's end). */
  private classify(l2: Buffer, i: number, inCl: number):
    { kind: 'zero' | 'parent' | 'file'; length: number; pos: number; sub: boolean } | { kind: 'compressed'; entry: bigint } {
    const cs = this.cluster;
    const e = l2.readBigUInt64BE(i * this.entryBytes);
    if (e & (1n << 62n)) return { kind: 'compressed', entry: e };
    const host = Number(e & OFFSET_MASK);
    if (host % cs !== 0) throw corrupt(this.layer, `data cluster offset 0x${host.toString(16)} is not cluster-aligned`);
    const allocated = host !== 0 || ((e >> 63n) === 1n && this.data !== this.file);
    if (!this.h.extL2) {
      if (e & 1n) return { kind: 'zero', length: cs - inCl, pos: 0, sub: false };
      if (!allocated) return { kind: 'parent', length: cs - inCl, pos: 0, sub: false };
      return { kind: 'file', length: cs - inCl, pos: host, sub: false };
    }
    const bitmap = l2.readBigUInt64BE(i * 16 + 8);
    const sc = cs / 32;
    const s = Math.floor(inCl / sc);
    const lo = Number(bitmap & 0xffffffffn), hi = Number(bitmap >> 32n);
    const state = (k: number) => ((lo >>> k) & 1) | (((hi >>> k) & 1) << 1);
    const st = state(s);
    if (st === 3) throw corrupt(this.layer, `subcluster ${s} is both allocated and zero`);
    // the run of subclusters in the same state; `sub` when it ends inside the cluster
    let end = s + 1;
    while (end < 32 && state(end) === st) end++;
    const len = end * sc - inCl, sub = end < 32;
    if (st === 2) return { kind: 'zero', length: len, pos: 0, sub };
    if (st === 0) return { kind: 'parent', length: len, pos: 0, sub };
    if (!allocated) throw corrupt(this.layer, `subcluster ${s} is allocated in a cluster without a host offset`);
    return { kind: 'file', length: len, pos: host, sub };
  }

  private async compressed(e: bigint, inCl: number, length: number): Promise<Piece> {
    const coffset = Number(e & this.coffsetMask);
    const sectors = Number((e >> BigInt(this.csizeShift)) & this.csizeMask) + 1;
    const csize = sectors * 512 - (coffset & 511);
    const bytes = await this.cache.through(`c@${coffset}`, () => {
      const avail = Math.max(0, Math.min(csize, this.file.size - coffset));
      if (avail === 0) throw corrupt(this.layer, `compressed cluster at ${coffset} lies beyond the end of the file`);
      const input = readExact(this.file, coffset, avail, 'compressed cluster');
      let out: Buffer;
      try {
        out = zlib.inflateRawSync(input, { maxOutputLength: this.cluster, finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } catch (err) {
        throw corrupt(this.layer, `compressed cluster at ${coffset} does not inflate to one cluster (${(err as Error).message})`);
      }
      if (out.length < this.cluster) throw corrupt(this.layer, `compressed cluster at ${coffset} inflates to ${out.length} bytes, not ${this.cluster}`);
      return out;
    });
    return { kind: 'bytes', length, bytes, at: inCl };
  }
}

export async function openQcow2Blocks(file: LayerFile, ctx: LayerContext): Promise<BlockReader> {
  const h = parseHeader(file);
  const files: LayerFile[] = [file];
  let parent: BlockReader | null = null;
  try {
    let data = file;
    if (h.dataFile !== null) {
      data = await ctx.openFile({ path: resolveNamed(file.path, h.dataFile), role: 'data-file', from: file.path });
      files.push(data);
    }
    if (h.backing !== null) {
      let fmt: string | undefined;
      if (h.backingFormat) {
        fmt = QEMU_FORMATS[h.backingFormat];
        if (!fmt) throw new FormatError('unsupported', `${file.path}: backing format ${JSON.stringify(h.backingFormat)} is not one vdisk reads`);
      }
      parent = (await ctx.openImage({ path: resolveNamed(file.path, h.backing), role: 'backing', from: file.path }, fmt)).disk;
    }
    return new Qcow2Disk(file, data, h, parent, files);
  } catch (e) {
    for (const f of files.slice(1)) f.close();
    await parent?.close();
    throw e;
  }
}
