// The virtual disk of a VHDX: the BAT interleaves one sector-bitmap entry after every `chunkRatio` payload entries.
// Payload states (MS-VHDX 2.5.1.1): NOT_PRESENT reads the parent in a differencing disk and zeros otherwise;
// UNDEFINED, ZERO and UNMAPPED read zeros; FULLY_PRESENT reads the block; PARTIALLY_PRESENT (differencing only)
// reads each logical sector from the block or the parent as the chunk's sector bitmap says (bit 0 of byte 0 first).
import type { BlockReader } from '../block';
import { ByteLru, LayerFacts, MappedDisk, PagedTable, Piece, corrupt } from '../block-map';
import type { LayerFile } from '../layer-files';
import { REGION_BAT } from './inspect';

const MiB = 1024 * 1024;
const CACHE_BYTES = 2 * MiB;
const NOT_PRESENT = 0, UNDEFINED = 1, ZERO = 2, UNMAPPED = 3, FULLY_PRESENT = 6, PARTIALLY_PRESENT = 7;
const SB_PRESENT = 6;

class VhdxDisk extends MappedDisk {
  private readonly cache = new ByteLru<string, Buffer>(CACHE_BYTES);
  private readonly bat: PagedTable;

  constructor(private readonly file: LayerFile, size: number, sectorSize: number, private readonly blockSize: number,
    private readonly chunkRatio: number, batOffset: number, batEntries: number, parent: BlockReader | null,
    private readonly differencing: boolean) {
    super(size, sectorSize, parent, [file], file.path);
    this.bat = new PagedTable(file, batOffset, batEntries, 8, this.cache, 'BAT');
  }

  private async entry(i: number): Promise<{ state: number; offset: number }> {
    if (i >= this.bat.count) throw corrupt(this.layer, `BAT entry ${i} beyond the BAT's ${this.bat.count} entries`);
    const [page, at] = await this.bat.at(i);
    const lo = page.readUInt32LE(at), hi = page.readUInt32LE(at + 4);
    // file offset in MiB = bits 20-63
    return { state: lo & 7, offset: ((lo >>> 20) + hi * 4096) * MiB };
  }

  protected async map(offset: number, length: number): Promise<Piece> {
    const bs = this.blockSize, cr = this.chunkRatio;
    const block = Math.floor(offset / bs);
    const inBlock = offset - block * bs;
    const run = Math.min(length, bs - inBlock);
    const e = await this.entry(block + Math.floor(block / cr));
    switch (e.state) {
      case NOT_PRESENT: return { kind: this.differencing ? 'parent' : 'zero', length: run };
      case UNDEFINED: case ZERO: case UNMAPPED: return { kind: 'zero', length: run };
      case FULLY_PRESENT:
        if (e.offset < MiB) throw corrupt(this.layer, `payload block ${block} at offset ${e.offset}, inside the header section`);
        return { kind: 'file', length: run, file: this.file, pos: e.offset + inBlock };
      case PARTIALLY_PRESENT:
        if (!this.differencing) throw corrupt(this.layer, `payload block ${block} is partially present in a disk without a parent`);
        if (e.offset < MiB) throw corrupt(this.layer, `payload block ${block} at offset ${e.offset}, inside the header section`);
        return this.partial(block, inBlock, run, e.offset);
      default:
        throw corrupt(this.layer, `payload block ${block} has the reserved BAT state ${e.state}`);
    }
  }

  private async partial(block: number, inBlock: number, run: number, dataAt: number): Promise<Piece> {
    const cr = this.chunkRatio, ss = this.sectorSize;
    const chunk = Math.floor(block / cr);
    const sb = await this.entry(chunk * (cr + 1) + cr);
    if (sb.state !== SB_PRESENT || sb.offset < MiB) throw corrupt(this.layer, `payload block ${block} is partially present but its sector bitmap block is not (state ${sb.state})`);
    // the slice of the chunk's 1 MiB bitmap that covers this payload block
    const sectorsPerBlock = this.blockSize / ss;
    const sliceBytes = sectorsPerBlock / 8;
    const slicePos = sb.offset + (block % cr) * sliceBytes;
    const bits = await this.cache.through(`sb#${block}`, () => {
      const b = Buffer.alloc(sliceBytes);
      this.file.readInto(b, 0, sliceBytes, slicePos);
      return b;
    });
    const bit = (s: number) => (bits[s >> 3] >> (s & 7)) & 1;
    const first = Math.floor(inBlock / ss);
    const v = bit(first);
    const last = Math.floor((inBlock + run - 1) / ss);
    let s = first + 1;
    while (s <= last && bit(s) === v) s++;
    const len = Math.min(run, s * ss - inBlock);
    return v ? { kind: 'file', length: len, file: this.file, pos: dataAt + inBlock } : { kind: 'parent', length: len };
  }
}

export function openVhdxBlocks(file: LayerFile, facts: LayerFacts, parent: BlockReader | null): BlockReader {
  const d = facts.details ?? {};
  const regions = Array.isArray(d.regions) ? d.regions as { guid: string; offset: number; length: number }[] : [];
  const bat = regions.find((r) => r.guid === REGION_BAT);
  const bs = facts.blockSize, ss = facts.logicalSectorSize;
  const cr = d.chunkRatio, entries = d.batEntries;
  if (!bat || !bs || typeof cr !== 'number' || typeof entries !== 'number' || !Number.isSafeInteger(cr) || cr < 1) {
    throw corrupt(file.path, 'the VHDX region table, metadata or BAT is damaged');
  }
  if (entries * 8 > bat.length) throw corrupt(file.path, `the BAT region of ${bat.length} bytes holds fewer than ${entries} entries`);
  const differencing = facts.subtype === 'differencing';
  if (differencing && !parent) throw corrupt(file.path, 'differencing VHDX without a parent');
  return new VhdxDisk(file, facts.virtualSize, ss, bs, cr, bat.offset, entries, parent, differencing);
}
