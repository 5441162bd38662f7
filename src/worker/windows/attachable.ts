// Which images the Windows backend attaches, by the format layer's reading (not the extension): VHD, VHDX and
// ISO/UDF. Raw images are refused pointing at "Browse Disk Image"; the rest with a hint to convert them.
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import { WorkerError } from '../errors';
import { FORMAT_REGISTRY } from '../../formats/registry';
import type { DiskKind } from './virtdisk';

/** The VirtDisk device type the format's descriptor names (formats/registry.ts), or why Windows cannot attach it. */
export function kindForImage(image: ImageInfo): DiskKind {
  const kind = FORMAT_REGISTRY[image.format].virtDisk;
  if (kind) return kind;
  if (image.format === 'raw') {
    throw new WorkerError(ErrorCode.NotSupported,
      `${path.basename(image.path)} is a raw disk image: Windows attaches only VHD, VHDX and ISO images. Use "Browse Disk Image" to read its files without attaching it, or convert it to VHDX.`,
      { path: image.path, reason: 'raw-not-attachable-on-windows' });
  }
  throw new WorkerError(ErrorCode.UnsupportedImage,
    `${path.basename(image.path)} is a ${image.format} image: Windows attaches only VHD, VHDX and ISO images. Convert it to VHDX (qemu-img convert -O vhdx) first.`,
    { path: image.path, reason: 'format-not-attachable-on-windows' });
}
