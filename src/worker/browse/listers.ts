// Which reader lists a volume: vdisk's own for the file systems 7-Zip does not read (exFAT), 7-Zip for the rest.
import type { BlockReader } from '../../formats/block';
import type { Volume } from '../../formats/volumes';
import { run7z } from './sevenzip';
import type { FsNode, Listing } from './slt';
import { LINKS_LIST, ThreadVolume } from './thread-protocol';
import { rockRidgeOverJoliet } from './iso-view';
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
    // the worker's log (stderr, `[level] message`); listings carry them too (BrowseEntry.problems)
    for (const p of fs.problems) process.stderr.write(`[warn] browse: exFAT volume at offset ${v.offset}: damaged entry skipped: ${p}\n`);
    return { lister: { complete: true, folder: async () => listing, all: async () => listing }, native: fs };
  }
  const patches = await rockRidgeOverJoliet(disk, v).catch(() => []);
  if (patches.length) (v as ThreadVolume).patches = patches;
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
    await linkTargets(disk, v, r.listing.root);
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

/**
 * 7-Zip's listing gives no target for the links of squashfs and HFS+ (their data is the target): one extraction of
 * just those links into nothing collects them (see the `links` op). A link whose target still is not known keeps
 * none: it is shown as such and Extract refuses it.
 */
async function linkTargets(disk: BlockReader, v: Volume, root: FsNode): Promise<void> {
  const unknown = new Map<string, FsNode>();
  const walk = (n: FsNode, p: string) => {
    for (const c of n.children?.values() ?? []) {
      const cp = p ? `${p}/${c.name}` : c.name;
      if (c.type === 'symlink' && c.target === undefined && !/[\r\n]/.test(cp)) unknown.set(cp, c);
      else if (c.type === 'directory') walk(c, cp);
    }
  };
  walk(root, '');
  if (!unknown.size) return;
  const paths = [...unknown.keys()];
  const r = await run7z({ disk, volume: v, args: ['x', ...QUIET, '-scsUTF-8', '-spd', '-aos', '-snld', '/in/volume', '-o/out', `@${LINKS_LIST}`],
    op: { kind: 'links', paths } }).done;
  for (const [p, t] of Object.entries(r.links ?? {})) { const n = unknown.get(p); if (n) n.target = t; }
}
