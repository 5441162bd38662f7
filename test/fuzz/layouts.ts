// Where each format keeps its counts, offsets and checksums, found in a pristine seed: the fuzzer writes huge values
// into these fields, cuts files at these boundaries and re-seals checksums so a mutation reaches the deeper parsers.
import { crc32cWithZeroField } from '../../src/formats/crc32c';
import { vhdChecksum } from '../../src/formats/vhd/inspect';
import type { FuzzFormat } from './corpus';
import type { Overlay } from './overlay';
import { addBlockLayout } from './block-layouts';

export interface Field { name: string; offset: number; width: 1 | 2 | 4 | 8; le: boolean }
export interface Layout {
  fields: Field[];
  /** Metadata byte ranges where bit flips and byte sets land. */
  regions: [number, number][];
  /** Structure boundaries where truncation cuts. */
  boundaries: number[];
  /** Re-seal checksums after a mutation (run with a probability, so damaged checksums are fuzzed too). */
  fixers: ((ov: Overlay) => void)[];
}

const u32le = (b: Buffer, o: number) => (o + 4 <= b.length ? b.readUInt32LE(o) : 0);
const u32be = (b: Buffer, o: number) => (o + 4 <= b.length ? b.readUInt32BE(o) : 0);
const u64 = (b: Buffer, o: number, le: boolean) => (o + 8 <= b.length ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : 0);

function vhd(b: Buffer, L: Layout): void {
  const fld = (name: string, offset: number, width: Field['width']) => L.fields.push({ name, offset, width, le: false });
  const footers = [b.length - 512, 0].filter((o) => o >= 0 && b.toString('latin1', o, o + 8) === 'conectix');
  for (const f of footers) {
    for (const [n, o, w] of [['dataOffset', 16, 8], ['originalSize', 40, 8], ['currentSize', 48, 8], ['cylinders', 56, 2],
      ['heads', 58, 1], ['sectors', 59, 1], ['diskType', 60, 4], ['creatorApp', 28, 4]] as const) fld(`footer@${f}.${n}`, f + o, w);
    L.regions.push([f, 512]);
    L.fixers.push((ov) => { const x = ov.read(f, 512); ov.writeUInt(f + 64, 4, false, BigInt(vhdChecksum(x, 64))); });
  }
  L.boundaries.push(b.length - 512, b.length - 1, 511, 512);
  const d = footers.length ? u64(b, footers[0] + 16, false) : 0;
  if (!d || d + 1024 > b.length || b.toString('latin1', d, d + 8) !== 'cxsparse') return;
  L.regions.push([d, 1024]);
  L.boundaries.push(d, d + 36, d + 576, d + 1024);
  for (const [n, o, w] of [['tableOffset', 16, 8], ['headerVersion', 24, 4], ['maxTableEntries', 28, 4], ['blockSize', 32, 4]] as const) fld(`dyn.${n}`, d + o, w);
  for (let i = 0; i < 8; i++) {
    const o = d + 576 + i * 24;
    for (const [n, x, w] of [['code', 0, 4], ['dataSpace', 4, 4], ['dataLength', 8, 4], ['offset', 16, 8]] as const) fld(`locator${i}.${n}`, o + x, w);
    const lo = u64(b, o + 16, false), ll = u32be(b, o + 8);
    if (u32be(b, o) && lo + ll <= b.length) { L.regions.push([lo, Math.max(ll, 1)]); L.boundaries.push(lo, lo + Math.floor(ll / 2), lo + ll); }
  }
  L.fixers.push((ov) => { const x = ov.read(d, 1024); ov.writeUInt(d + 36, 4, false, BigInt(vhdChecksum(x, 36))); });
  const t = u64(b, d + 16, false), n = u32be(b, d + 28);
  if (t && t < b.length) {
    L.regions.push([t, Math.min(n * 4, 4096)]);
    L.boundaries.push(t, t + Math.min(n * 4, b.length - t));
    for (let i = 0; i < Math.min(n, 8); i++) fld(`bat[${i}]`, t + i * 4, 4);
  }
}

function vhdx(b: Buffer, L: Layout): void {
  const K = 1024;
  const fld = (name: string, offset: number, width: Field['width']) => L.fields.push({ name, offset, width, le: true });
  L.regions.push([0, 520]);
  L.boundaries.push(520, 64 * K, 128 * K, 192 * K, 256 * K, 320 * K, 1024 * K);
  for (const h of [64 * K, 128 * K]) {
    L.regions.push([h, 128]);
    for (const [n, o, w] of [['sequence', 8, 8], ['logVersion', 64, 2], ['version', 66, 2], ['logLength', 68, 4], ['logOffset', 72, 8]] as const) fld(`header@${h}.${n}`, h + o, w);
    L.fixers.push((ov) => { const x = ov.read(h, 4096); ov.writeUInt(h + 4, 4, true, BigInt(crc32cWithZeroField(x, 4))); });
  }
  const log = u64(b, 64 * K + 72, true);
  if (log && log + 64 <= b.length) { L.regions.push([log, 64]); L.boundaries.push(log, log + 64); }
  let meta = 0, metaLen = 0, bat = 0;
  for (const rt of [192 * K, 256 * K]) {
    const count = Math.min(u32le(b, rt + 8), 16);
    L.regions.push([rt, 16 + count * 32]);
    fld(`regions@${rt}.count`, rt + 8, 4);
    for (let i = 0; i < count; i++) {
      const e = rt + 16 + i * 32;
      fld(`regions@${rt}[${i}].offset`, e + 16, 8); fld(`regions@${rt}[${i}].length`, e + 24, 4); fld(`regions@${rt}[${i}].required`, e + 28, 4);
      const g = b.toString('hex', e, e + 4);
      if (g === '06a27c8b') { meta = u64(b, e + 16, true); metaLen = u32le(b, e + 24); }
      if (g === '6677c22d') bat = u64(b, e + 16, true);
    }
    L.fixers.push((ov) => { const x = ov.read(rt, 64 * K); ov.writeUInt(rt + 4, 4, true, BigInt(crc32cWithZeroField(x, 4))); });
  }
  if (bat && bat < b.length) {
    L.regions.push([bat, 64]); L.boundaries.push(bat, bat + 8);
    for (let i = 0; i < 4; i++) fld(`bat[${i}]`, bat + i * 8, 8);
  }
  if (!meta || meta + 32 > b.length) return;
  const count = Math.min(b.readUInt16LE(meta + 10), 32);
  L.regions.push([meta, 32 + count * 32]);
  L.boundaries.push(meta, meta + 32, meta + 32 + count * 32, meta + metaLen);
  fld('metadata.count', meta + 10, 2);
  for (let i = 0; i < count; i++) {
    const e = meta + 32 + i * 32;
    fld(`metadata[${i}].offset`, e + 16, 4); fld(`metadata[${i}].length`, e + 20, 4); fld(`metadata[${i}].flags`, e + 24, 4);
    const io = meta + u32le(b, e + 16), il = u32le(b, e + 20);
    if (io + il > b.length || il === 0) continue;
    L.regions.push([io, Math.min(il, 512)]);
    L.boundaries.push(io, io + il);
    fld(`item${i}.u32@0`, io, 4);
    if (il >= 8) fld(`item${i}.u64@0`, io, 8);
    if (il >= 20 && b.toString('hex', e, e + 4) === '2d5fd3a8') {
      // the parent locator: key/value count and the first entries' offsets and lengths
      fld('parentLocator.count', io + 18, 2);
      for (let k = 0; k < Math.min(b.readUInt16LE(io + 18), 4); k++) {
        const pe = io + 20 + k * 12;
        fld(`parentLocator[${k}].keyOffset`, pe, 4); fld(`parentLocator[${k}].valueOffset`, pe + 4, 4);
        fld(`parentLocator[${k}].keyLength`, pe + 8, 2); fld(`parentLocator[${k}].valueLength`, pe + 10, 2);
      }
    }
  }
}

function iso(b: Buffer, L: Layout): void {
  L.boundaries.push(32768, 32768 + 1, 34816, b.length - 2048, b.length - 1);
  for (let o = 32768; o + 2048 <= b.length && o < 32768 + 32 * 2048; o += 2048) {
    const id = b.toString('latin1', o + 1, o + 6);
    if (!/^(CD001|BEA01|NSR0[23]|TEA01|BOOT2|CDW02)$/.test(id)) break;
    L.regions.push([o, 200]);
    L.boundaries.push(o, o + 6, o + 2048);
    L.fields.push({ name: `vd@${o}.type`, offset: o, width: 1, le: true });
    if (id !== 'CD001') continue;
    for (const [n, x, w] of [['spaceSize', 80, 4], ['spaceSizeBE', 84, 4], ['blockSize', 128, 2], ['pathTableSize', 132, 4],
      ['rootExtent', 158, 4], ['rootSize', 166, 4], ['bootCatalog', 71, 4]] as const) L.fields.push({ name: `vd@${o}.${n}`, offset: o + x, width: w, le: true });
  }
}

function udfTagFixer(at: number): (ov: Overlay) => void {
  return (ov) => {
    const t = ov.read(at, 16);
    if (t.length < 16) return;
    let s = 0;
    for (let i = 0; i < 16; i++) if (i !== 4) s += t[i];
    ov.write(at + 4, Buffer.from([s & 0xff]));
  };
}

function udf(b: Buffer, L: Layout): void {
  iso(b, L);
  for (const bs of [512, 1024, 2048, 4096]) {
    const a = 256 * bs;
    if (a + 32 > b.length || b.readUInt16LE(a) !== 2 || u32le(b, a + 12) !== 256) continue;
    L.regions.push([a, 32]);
    L.boundaries.push(a, a + 16, a + 32);
    for (const [n, x, w] of [['tagId', 0, 2], ['tagLocation', 12, 4], ['vdsLength', 16, 4], ['vdsLocation', 20, 4]] as const) L.fields.push({ name: `anchor.${n}`, offset: a + x, width: w, le: true });
    L.fixers.push(udfTagFixer(a));
    const loc = u32le(b, a + 20), len = Math.min(u32le(b, a + 16), 64 * 1024);
    for (let o = loc * bs, blk = 0; o + 16 <= b.length && o < loc * bs + len; o += bs, blk++) {
      L.regions.push([o, Math.min(bs, 256)]);
      L.boundaries.push(o, o + 16);
      L.fields.push({ name: `vds[${blk}].tagId`, offset: o, width: 2, le: true }, { name: `vds[${blk}].tagLocation`, offset: o + 12, width: 4, le: true });
      if (b.readUInt16LE(o) === 5) L.fields.push({ name: `vds[${blk}].partitionLength`, offset: o + 192, width: 4, le: true });
      if (b.readUInt16LE(o) === 6) L.fields.push({ name: `vds[${blk}].labelLength`, offset: o + 211, width: 1, le: true });
      L.fixers.push(udfTagFixer(o));
    }
  }
}

const headerFields = (le: boolean, list: [string, number, Field['width']][]) => list.map(([name, offset, width]) => ({ name, offset, width, le }));

function qcow2(b: Buffer, L: Layout): void {
  L.fields.push(...headerFields(false, [['version', 4, 4], ['backingOffset', 8, 8], ['backingLength', 16, 4], ['clusterBits', 20, 4],
    ['size', 24, 8], ['cryptMethod', 32, 4], ['l1Size', 36, 4], ['l1Offset', 40, 8], ['refcountOffset', 48, 8], ['snapshots', 60, 4],
    ['snapshotsOffset', 64, 8], ['headerLength', 100, 4]]));
  L.regions.push([0, 512]);
  const bo = u64(b, 8, false), bl = u32be(b, 16);
  if (bo && bl) { L.regions.push([bo, bl]); L.boundaries.push(bo, bo + bl); }
  L.boundaries.push(4, 20, 32, 72, 104, 512);
}

function vmdk(b: Buffer, L: Layout): void {
  if (b.toString('latin1', 0, 4) !== 'KDMV') { L.regions.push([0, b.length]); L.boundaries.push(1, 21, Math.floor(b.length / 2)); return; }
  L.fields.push(...headerFields(true, [['version', 4, 4], ['capacity', 12, 8], ['grainSize', 20, 8], ['descriptorOffset', 28, 8],
    ['descriptorSize', 36, 8], ['gtesPerGt', 44, 4], ['rgdOffset', 48, 8], ['gdOffset', 56, 8], ['overhead', 64, 8], ['compression', 77, 2]]));
  L.regions.push([0, 80]);
  const d = u64(b, 28, true) * 512, n = u64(b, 36, true) * 512;
  if (d && d < b.length) { L.regions.push([d, Math.min(n, 1024)]); L.boundaries.push(d, d + 30, d + n); }
  L.boundaries.push(4, 79, 80, 512);
}

function vdi(_b: Buffer, L: Layout): void {
  L.fields.push(...headerFields(true, [['version', 0x44, 4], ['headerSize', 0x48, 4], ['type', 0x4c, 4], ['offsetBlocks', 0x154, 4],
    ['offsetData', 0x158, 4], ['sectorSize', 0x168, 4], ['size', 0x170, 8], ['blockSize', 0x178, 4], ['blocks', 0x180, 4], ['allocated', 0x184, 4]]));
  L.regions.push([0, 0x200]);
  L.boundaries.push(0x40, 0x44, 0x1c7, 0x1c8, 0x200);
}

function mbrGpt(b: Buffer, L: Layout): void {
  L.regions.push([446, 66]);
  L.boundaries.push(510, 512);
  const mbrFields = (base: number, tag: string) => {
    for (let i = 0; i < 4; i++) {
      const e = base + 446 + i * 16;
      L.fields.push({ name: `${tag}[${i}].status`, offset: e, width: 1, le: true }, { name: `${tag}[${i}].type`, offset: e + 4, width: 1, le: true },
        { name: `${tag}[${i}].lba`, offset: e + 8, width: 4, le: true }, { name: `${tag}[${i}].count`, offset: e + 12, width: 4, le: true });
    }
  };
  mbrFields(0, 'mbr');
  for (let i = 0; i < 4; i++) {
    const e = 446 + i * 16;
    if (![5, 0x0f, 0x85].includes(b[e + 4])) continue;
    // walk the EBR chain of the pristine seed
    const ext = u32le(b, e + 8);
    for (let ebr = ext, n = 0; n < 16 && (ebr + 1) * 512 <= b.length; n++) {
      mbrFields(ebr * 512, `ebr${n}`);
      L.regions.push([ebr * 512 + 446, 34]);
      L.boundaries.push(ebr * 512, ebr * 512 + 510);
      const next = u32le(b, ebr * 512 + 462 + 8);
      if (!next) break;
      ebr = ext + next;
    }
  }
  for (const ss of [512, 4096]) {
    if (b.toString('latin1', ss, ss + 8) !== 'EFI PART') continue;
    L.regions.push([ss, 92]);
    L.fields.push(...headerFields(true, [['gpt.entriesLba', ss + 72, 8], ['gpt.count', ss + 80, 4], ['gpt.entrySize', ss + 84, 4],
      ['gpt.firstUsable', ss + 40, 8], ['gpt.lastUsable', ss + 48, 8]]));
    const el = u64(b, ss + 72, true) * ss;
    if (el && el < b.length) {
      L.regions.push([el, 512]);
      L.boundaries.push(ss, ss + 92, el, el + 128, el + u32le(b, ss + 80) * u32le(b, ss + 84));
      for (let k = 0; k < 3; k++) L.fields.push({ name: `gpt[${k}].first`, offset: el + k * 128 + 32, width: 8, le: true }, { name: `gpt[${k}].last`, offset: el + k * 128 + 40, width: 8, le: true });
    }
  }
}

/** `blockStructures`: also the tables and bitmaps the block readers walk (the block target's `data-*` seeds). */
export function layoutOf(format: FuzzFormat, b: Buffer, blockStructures = false): Layout {
  const L: Layout = { fields: [], regions: [], boundaries: [0], fixers: [] };
  ({ vhd, vhdx, iso, udf, qcow2, vmdk, vdi, 'mbr-gpt': mbrGpt } as const)[format](b, L);
  if (blockStructures) addBlockLayout(format, b, L);
  L.regions = L.regions.filter(([o, n]) => o >= 0 && n > 0 && o < b.length).map(([o, n]) => [o, Math.min(n, b.length - o)]);
  L.fields = L.fields.filter((f) => f.offset >= 0 && f.offset + f.width <= b.length);
  L.boundaries = [...new Set(L.boundaries.filter((x) => x >= 0 && x < b.length))].sort((x, y) => x - y);
  if (!L.regions.length) L.regions.push([0, Math.min(512, b.length)]);
  return L;
}
