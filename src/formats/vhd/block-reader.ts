// The virtual disk of a VHD: fixed (the data is the file before the footer), dynamic (BAT of 512-byte sector
// offsets; each block is a sector bitmap then the data) and differencing (a sector whose bitmap bit is clear, or a
// block that is not allocated, is the parent's). Dynamic blocks ignore their bitmap, as qemu does.
import type { BlockReader } from '../block';
import { ByteLru, LayerFacts, MappedDisk, PagedTable, Piece, corrupt } from '../block-map';
import type { LayerFile } from '../layer-files';

const UNALLOCATED = 0xffffffff;
const CACHE_BYTES = 2 * 1024 * 1024;

class FixedVhd extends MappedDisk {
  constructor(private readonly file: LayerFile, size: number) { super(size, 512, null, [file], file.path); }
  protected async map(offset: number, length: number): Promise<Piece> {
    return { kind: 'file', length, file: this.file, pos: offset };
  }
}

class SparseVhd extends MappedDisk {
  private readonly cache = new ByteLru<string, Buffer>(CACHE_BYTES);
  private readonly bat: PagedTable;
  private readonly bitmapBytes: number;

  constructor(private readonly file: LayerFile, size: number, private readonly blockSize: number, batOffset: number,
    batEntries: number, parent: BlockReader | null, private readonly differencing: boolean) {
    super(size, 512, parent, [file], file.path);
    this.bat = new PagedTable(file, batOffset, batEntries, 4, this.cache, 'BAT');
    this.bitmapBytes = Math.ceil(blockSize / 512 / 8 / 512) * 512;
  }

  protected async map(offset: number, length: number): Promise<Piece> {
    const bs = this.blockSize;
    const block = Math.floor(offset / bs);
    const inBlock = offset - block * bs;
    const run = Math.min(length, bs - inBlock);
    const absent: Piece = { kind: this.differencing ? 'parent' : 'zero', length: run };
    if (block >= this.bat.count) return absent;
    const [page, at] = await this.bat.at(block);
    const sector = page.readUInt32BE(at);
    if (sector === UNALLOCATED) return absent;
    const start = sector * 512;
    const data = start + this.bitmapBytes;
    if (!this.differencing) return { kind: 'file', length: run, file: this.file, pos: data + inBlock };
    const bitmap = await this.cache.through(`bitmap#${block}`, () => {
      const b = Buffer.alloc(this.bitmapBytes);
      this.file.readInto(b, 0, this.bitmapBytes, start);
      return b;
    });
    // bit 7 of byte 0 is the block's first sector; a run ends where the bit changes
    const bit = (s: number) => (bitmap[s >> 3] >> (7 - (s & 7))) & 1;
    const first = Math.floor(inBlock / 512);
    const v = bit(first);
    const lastSector = Math.floor((inBlock + run - 1) / 512);
    let s = first + 1;
    while (s <= lastSector && bit(s) === v) s++;
    const len = Math.min(run, s * 512 - inBlock);
    return v ? { kind: 'file', length: len, file: this.file, pos: data + inBlock } : { kind: 'parent', length: len };
  }
}

export function openVhdBlocks(file: LayerFile, facts: LayerFacts, parent: BlockReader | null): BlockReader {
  const d = facts.details ?? {};
  const size = facts.virtualSize;
  if (facts.subtype === 'fixed') {
    if (size > file.size - 512) throw corrupt(file.path, `the fixed VHD declares ${size} bytes but holds ${Math.max(0, file.size - 512)}`);
    return new FixedVhd(file, size);
  }
  if (facts.subtype !== 'dynamic' && facts.subtype !== 'differencing') throw corrupt(file.path, 'unknown VHD disk type');
  const bs = facts.blockSize;
  const batOffset = d.batOffset, batEntries = d.batEntries;
  if (!bs || typeof batOffset !== 'number' || typeof batEntries !== 'number') throw corrupt(file.path, 'the dynamic disk header or its block size is damaged');
  if (facts.subtype === 'differencing' && !parent) throw corrupt(file.path, 'differencing VHD without a parent');
  return new SparseVhd(file, size, bs, batOffset, batEntries, parent, facts.subtype === 'differencing');
}
