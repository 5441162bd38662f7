// Which of the format layer's problems stop an attach. Mirrors what VirtDisk refuses on Windows, so a disk
// that would not attach there does not attach here either.
import type { ImageInfo, Problem } from '../common/image';

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
