// The block structures of a `data-*` seed (docs/fuzzing.md, block target): table entries become fields (huge values,
// bit flips) and the tables, bitmaps and grain markers become regions, so mutations reach every reader's data path.
import type { FuzzFormat } from './corpus';
import type { Field, Layout } from './layouts';

const MAX_FIELDS = 48;
const num = (v: bigint) => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : -1);

export function addBlockLayout(format: FuzzFormat, b: Buffer, L: Layout): void {
  const fields: Field[] = [];
  const table = (name: string, at: number, count: number, width: 4 | 8, le: boolean) => {
    if (at <= 0 || at >= b.length || count <= 0) return;
    const n = Math.min(count, Math.floor((b.length - at) / width));
    L.regions.push([at, n * width]);
    for (let i = 0; i < n && fields.length < MAX_FIELDS; i++) fields.push({ name: `${name}[${i}]`, offset: at + i * width, width, le });
  };
  const rd32 = (o: number, le: boolean) => (o + 4 <= b.length ? (le ? b.readUInt32LE(o) : b.readUInt32BE(o)) : 0);
  const rd64 = (o: number, le: boolean) => (o + 8 <= b.length ? (le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : 0n);
  switch (format) {
    case 'vhd': {
      const f = b.length - 512;
      if (f < 0 || b.toString('latin1', f, f + 8) !== 'conectix' || rd32(f + 60, false) === 2) break;
      const d = num(rd64(f + 16, false));
      if (d <= 0 || d + 1024 > b.length) break;
      const bat = num(rd64(d + 16, false)), entries = rd32(d + 28, false);
      table('bat', bat, entries, 4, false);
      for (let i = 0; i < Math.min(entries, 64); i++) {
        const s = rd32(bat + i * 4, false);
        if (s !== 0xffffffff && s * 512 < b.length) L.regions.push([s * 512, 512]);
      }
      break;
    }
    case 'vhdx': {
      // the BAT region's entry in the first region table (the one every reader uses)
      const rt = 192 * 1024;
      for (let i = 0; i < Math.min(rd32(rt + 8, true), 8); i++) {
        const e = rt + 16 + i * 32;
        if (b.readUInt32LE(e) !== 0x2dc27766) continue;
        const at = num(rd64(e + 16, true));
        table('bat', at, 64, 8, true);
        for (let k = 0; k < 64 && at + k * 8 + 8 <= b.length; k++) {
          const v = rd64(at + k * 8, true);
          const off = num(v >> 20n) * 1024 * 1024;
          if ((v & 7n) >= 6n && off > 0 && off < b.length) L.regions.push([off, 4096]);
        }
      }
      break;
    }
    case 'qcow2': {
      const cluster = 2 ** rd32(20, false);
      const l1 = num(rd64(40, false)), l1Size = rd32(36, false);
      if (!(cluster >= 512 && cluster <= 2 * 1024 * 1024)) break;
      table('l1', l1, l1Size, 8, false);
      for (let i = 0; i < Math.min(l1Size, 4); i++) {
        const l2 = num(rd64(l1 + i * 8, false) & 0x00fffffffffffe00n);
        if (l2 > 0 && l2 < b.length) table(`l2#${i}`, l2, Math.min(cluster / 8, 64), 8, false);
      }
      break;
    }
    case 'vmdk': {
      if (b.toString('latin1', 0, 4) !== 'KDMV') break;
      let h = 0;
      if (rd64(56, true) === 0xffffffffffffffffn && b.length >= 1536) {
        h = b.length - 1024;
        L.regions.push([b.length - 1536, 1536]);
        fields.push({ name: 'footer.gdOffset', offset: h + 56, width: 8, le: true }, { name: 'footer.grainSize', offset: h + 20, width: 8, le: true },
          { name: 'footer.flags', offset: h + 8, width: 4, le: true }, { name: 'footer.capacity', offset: h + 12, width: 8, le: true });
      }
      const gd = num(rd64(h + 56, true)) * 512;
      table('gd', gd, 8, 4, true);
      const gt = rd32(gd, true) * 512;
      table('gt', gt, 64, 4, true);
      for (let i = 0; i < 16; i++) {
        const g = rd32(gt + i * 4, true) * 512;
        if (g > 1 && g + 12 <= b.length) { L.regions.push([g, 64]); fields.push({ name: `marker#${i}.size`, offset: g + 8, width: 4, le: true }); }
      }
      break;
    }
    case 'vdi':
      table('blockmap', rd32(0x154, true), rd32(0x180, true), 4, true);
      break;
    default:
      break;
  }
  L.fields.push(...fields);
}
