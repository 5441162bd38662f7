// Which images the Windows backend attaches, by the format layer's reading (not the extension): VHD, VHDX and
// ISO/UDF. The rest are refused as the format rules refuse them (kind-rules.ts).
import type { ImageInfo } from '../../common/image';
import { FORMAT_REGISTRY } from '../../formats/registry';
import { notAttachableOnWindows } from '../kind-rules';
import type { DiskKind } from './virtdisk';

/** The VirtDisk device type the format's descriptor names (formats/registry.ts), or why Windows cannot attach it. */
export function kindForImage(image: ImageInfo): DiskKind {
  const kind = FORMAT_REGISTRY[image.format].virtDisk;
  if (kind) return kind;
  throw notAttachableOnWindows(image);
}
