// Raw images (and ISO, UDF): the virtual disk is the file.
import { MappedDisk, Piece } from '../block-map';
import type { LayerFile } from '../layer-files';

class RawDisk extends MappedDisk {
  constructor(private readonly file: LayerFile, size: number, sectorSize: number) {
    super(size, sectorSize, null, [file], file.path);
  }

  protected async map(offset: number, length: number): Promise<Piece> {
    return { kind: 'file', length, file: this.file, pos: offset };
  }
}

/** The file as a disk of `size` bytes (default: the whole file). */
export function openRawBlocks(file: LayerFile, size = file.size, sectorSize = 512): RawDisk {
  return new RawDisk(file, size, sectorSize);
}
