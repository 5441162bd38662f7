// Which of the format layer's problems stop an attach. Mirrors what VirtDisk refuses on Windows, so a disk
// that would not attach there does not attach here either.
import type { ImageInfo, Problem } from '../common/image';

/** Problems that only matter for one access mode. Every other problem blocks. */
const READ_WRITE_OK = new Set(['log-replay-required']); // a read-write open replays the log first (Windows and qemu)

export function blockingProblems(image: ImageInfo, readOnly: boolean): Problem[] {
  return image.problems.filter((p) => readOnly || !READ_WRITE_OK.has(p.code));
}
