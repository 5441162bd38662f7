// Which reader lists a volume: vdisk's own for the file systems 7-Zip does not read (exFAT), 7-Zip for the rest.
import type { BlockReader } from '../../formats/block';
import type { Volume } from '../../formats/volumes';
import { run7z } from './sevenzip';
import type { FsNode, Listing } from './slt';
import type { Lister } from './volume-tree';
import { isExfat, openExfat } from './exfat/volume';

/** 7-Zip's arguments that keep it from ever asking anything on stdin. */
export const QUIET = ['-bd', '-p-vdisk-no-password-', '-sccUTF-8'];

/** A file system read by vdisk itself: reads and extraction go through it rather than 7-Zip. */
export interface NativeVolume {
  /** Up to `length` bytes of the file `node` from `offset` (fewer only at its end). */
  read(node: FsNode, offset: number, length: number): Promise<Uint8Array>;
}

export async function listerFor(disk: BlockReader, v: Volume): Promise<{ lister: Lister; native?: NativeVolume }> {
  if (await isExfat(disk, v)) {
    const fs = await openExfat(disk, v);
    const listing = fs.listing();
    return { lister: { complete: true, folder: async () => listing, all: async () => listing }, native: fs };
  }
  return { lister: sevenZipLister(disk, v) };
}

function sevenZipLister(disk: BlockReader, v: Volume): Lister {
  const list = async (args: string[]): Promise<Listing> => {
    const r = await run7z({ disk, volume: v, args: ['l', '-slt', ...QUIET, ...args], op: { kind: 'list' } }).done;
    if (r.rc !== 0 || !r.listing) {
      const text = r.errors.join(' ');
      if (/can ?not open (the )?file as archive/i.test(text)) throw new Error('7-Zip finds no file system it can read');
      throw new Error(`7-Zip could not list it (exit code ${r.rc}): ${text || 'no message'}`);
    }
    return r.listing;
  };
  return {
    complete: false,
    // only the folder's own entries: its path with `/*`, not recursing, and nothing one level further down
    folder: (names) => {
      const p = names.map((n) => `${n}/`).join('');
      return list(['-r-', `-x!${p}*/*`, '/in/volume', '--', `${p}*`]);
    },
    all: () => list(['/in/volume']),
  };
}
