// The virtual disk of a VirtualBox VDI (static or dynamic): a map of 1 MiB blocks, each the index of a block in the
// data area, 0xffffffff (never written) or 0xfffffffe (zeroed): both read as zeros. Differencing VDIs name their
// parent only by UUID (VirtualBox's media registry holds the path), so they are refused.
import type { BlockReader } from '../block';
import { ByteLru, LayerFacts, MappedDisk, PagedTable, Piece, corrupt, readExact } from '../block-map';
import { FormatError } from '../errors';
import type { LayerFile } from '../layer-files';

const BLOCK = 1024 * 1024;

class VdiDisk extends MappedDisk {
  private readonly map_: PagedTable;
  constructor(private readonly file: LayerFile, size: number, mapOffset: number, blocks: number, private readonly dataOffset: number) {
    super(size, 512, null, [file], file.path);
    this.map_ = new PagedTable(file, mapOffset, blocks, 4, new ByteLru(BLOCK), 'block map');
  }

  protected async map(offset: number, length: number): Promise<Piece> {
    const b = Math.floor(offset / BLOCK);
    const inBlock = offset - b * BLOCK;
    const run = Math.min(length, BLOCK - inBlock);
    if (b >= this.map_.count) return { kind: 'zero', length: run };
    const [page, at] = await this.map_.at(b);
    const e = page.readUInt32LE(at);
    if (e >= 0xfffffffe) return { kind: 'zero', length: run };
    return { kind: 'file', length: run, file: this.file, pos: this.dataOffset + e * BLOCK + inBlock };
  }
}

export function openVdiBlocks(file: LayerFile, facts: LayerFacts): BlockReader {
  const d = facts.details ?? {};
  if (facts.subtype === 'differencing') {
    throw new FormatError('unsupported', `${file.path}: a differencing VDI names its parent only by UUID ${String(d.parentUuid ?? '')} (VirtualBox keeps the path in its media registry); vdisk cannot find that parent`);
  }
  const { offsetBlocks, offsetData, blocks } = d as { offsetBlocks?: unknown; offsetData?: unknown; blocks?: unknown };
  if (facts.blockSize !== BLOCK || typeof offsetBlocks !== 'number' || typeof offsetData !== 'number' || typeof blocks !== 'number') {
    throw corrupt(file.path, 'the VDI header is damaged');
  }
  const extra = readExact(file, 0x17c, 4, 'VDI header').readUInt32LE(0);
  if (extra !== 0) throw new FormatError('unsupported', `${file.path}: VDI blocks with ${extra} bytes of extra data`);
  if (facts.virtualSize > blocks * BLOCK) throw corrupt(file.path, `${facts.virtualSize} bytes but the block map covers ${blocks} blocks`);
  return new VdiDisk(file, facts.virtualSize, offsetBlocks, blocks, offsetData);
}
