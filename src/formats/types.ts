// What one format parser learns from one file, before the chain is followed.
import type { ImageFormat, ImageInfo } from '../common/image';

export interface ParentRef {
  /** The id the child names for its parent, lowercase, or null. */
  id: string | null;
  /** An alternate id the parent may also carry (VHDX parent_linkage2). */
  altId?: string | null;
  name: string | null;
  locators: { relative?: string; absolute?: string; volume?: string };
}

/** ImageInfo's per-file facts; the chain, the file's size and path are added once the parents are followed. */
export interface ParsedImage extends Pick<ImageInfo, 'format' | 'subtype' | 'virtualSize' | 'blockSize' | 'logicalSectorSize'
  | 'physicalSectorSize' | 'id' | 'virtualDiskId' | 'creator' | 'needsLogReplay' | 'problems'> {
  parent: ParentRef | null;
  details: Record<string, unknown>;
}

export function baseParsed(format: ImageFormat, virtualSize: number): ParsedImage {
  return {
    format, subtype: null, virtualSize, blockSize: null, logicalSectorSize: 512, physicalSectorSize: 512,
    id: null, virtualDiskId: null, creator: null, parent: null, needsLogReplay: false, problems: [], details: {},
  };
}

/** Text of a NUL-padded field. */
export function cstr(b: Buffer, encoding: BufferEncoding = 'latin1'): string {
  const s = b.toString(encoding);
  const i = s.indexOf('\0');
  return i >= 0 ? s.slice(0, i) : s;
}

export function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && Number.isInteger(Math.log2(n));
}
