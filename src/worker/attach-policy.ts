// Which of the format layer's problems stop an attach. Mirrors what VirtDisk refuses on Windows, so a disk
// that would not attach there does not attach here either.
import * as path from 'path';
import type { ImageInfo, Problem } from '../common/image';
import type { AttachedDisk } from '../common/protocol';

/** Problems that only matter for one access mode. */
const READ_WRITE_OK = new Set(['log-replay-required']); // a read-write open replays the log first (Windows and qemu)
/**
 * Problems inside the disk's contents, not the image: Windows attaches such a disk (it shows as not initialised or
 * RAW), and repairing a partition table needs the disk attached. Every other problem blocks.
 */
const CONTENT_ONLY = new Set(['partition-table-invalid']);

export function blockingProblems(image: ImageInfo, readOnly: boolean): Problem[] {
  return image.problems.filter((p) => !CONTENT_ONLY.has(p.code) && (readOnly || !READ_WRITE_OK.has(p.code)));
}

/** What "Attach as Raw Disk" may set aside: only the name's promise, never damage or a chain. */
const RAW_OVERRIDES = new Set(['content-does-not-match-extension']);

/** Blocking problems for an attach that may be "as raw" (then the file's name no longer matters). */
export function blockingProblemsFor(image: ImageInfo, readOnly: boolean, asRaw: boolean): Problem[] {
  return blockingProblems(image, readOnly).filter((p) => !asRaw || !RAW_OVERRIDES.has(p.code));
}

/** The smallest attachable image: one 512-byte sector. Returns why not, or null. */
export function tooSmall(image: ImageInfo): string | null {
  const size = image.format === 'raw' ? image.fileSize : Math.min(image.fileSize, image.virtualSize || image.fileSize);
  return size < 512 ? `${size} bytes is less than one 512-byte sector` : null;
}

/** The image seen as raw bytes ("Attach as Raw Disk"): the whole file, no chain, no format structures. */
export function asRawImage(image: ImageInfo): ImageInfo {
  return {
    ...image, format: 'raw', subtype: null, virtualSize: image.fileSize, blockSize: null, parent: null,
    chain: [{ path: image.path, format: 'raw', subtype: null, id: null }], needsLogReplay: false,
    problems: image.problems.filter((p) => RAW_OVERRIDES.has(p.code)), details: { dataOffset: 0, dataSize: image.fileSize },
  };
}

/**
 * Writes to a layer under another image corrupt that image: a read-write attach must not touch any parent of an
 * attached disk (or of an image the host still lists), and no disk may be attached over a parent attached
 * read-write. Returns why the attach is refused, or null.
 */
export function chainConflict(image: ImageInfo, readOnly: boolean, attached: AttachedDisk[], protectedChains: ImageInfo[]): string | null {
  const name = (p: string) => path.basename(p);
  if (!readOnly) {
    const child = attached.find((d) => d.image !== image.path && d.chain?.slice(1).some((l) => l.path === image.path));
    if (child?.image) return `${name(image.path)} is in use as the parent of ${name(child.image)} (attached as ${child.device}): writing to it would corrupt that disk. Attach it read-only, or detach ${name(child.image)} first.`;
    const listed = protectedChains.find((c) => c.path !== image.path && c.chain.slice(1).some((l) => l.path === image.path));
    if (listed) return `${name(image.path)} is the parent of ${name(listed.path)} (in Recent Images): writing to it would corrupt that differencing disk. Attach it read-only, or remove ${name(listed.path)} from Recent Images if you no longer need it.`;
  }
  const writable = attached.find((d) => !d.readOnly && d.image && image.chain.slice(1).some((l) => l.path === d.image));
  if (writable?.image) return `${name(image.path)} reads through ${name(writable.image)}, which is attached read-write as ${writable.device}: detach it first (or attach it read-only), or the child would read data that is changing under it.`;
  return null;
}

/** Creating a child over a parent that is attached read-write would freeze a parent that is still changing. */
export function createDiffConflict(parent: string, attached: AttachedDisk[]): string | null {
  const rw = attached.find((d) => d.image === parent && !d.readOnly);
  return rw ? `${path.basename(parent)} is attached read-write as ${rw.device}: a differencing child needs a parent that no longer changes. Detach it (or attach it read-only) first.` : null;
}
