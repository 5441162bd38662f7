// Chain protection: a write to a layer another image reads through corrupts that image. The worker knows the
// attached disks and their chains; the host passes the images it still lists (Recent Images).
import * as path from 'path';
import type { ImageInfo } from '../common/image';
import type { AttachedDisk } from '../common/protocol';

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
