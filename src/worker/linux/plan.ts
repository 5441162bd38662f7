// Which Linux engine turns an image into a block device, decided from the format layer's reading and the format's
// descriptor (formats/registry.ts): a byte range of the file on a loop device, libvhdi for VHD/VHDX differencing
// chains, qemu-storage-daemon for the rest.
import { ErrorCode } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import { FORMAT_REGISTRY } from '../../formats/registry';
import type { FormatDescriptor } from '../../formats/descriptor';
import { WorkerError } from '../errors';

export type AttachPlan =
  | { engine: 'loop'; offset: number; sizeLimit: number }
  | { engine: 'qemu'; driver: NonNullable<FormatDescriptor['qemuDriver']> }
  | { engine: 'vhdimount' };

export function planAttach(image: ImageInfo, readOnly: boolean): AttachPlan {
  const f: FormatDescriptor = FORMAT_REGISTRY[image.format];
  const d = image.details ?? {};
  if (f.readOnlyMedium && !readOnly) {
    throw new WorkerError(ErrorCode.UnsupportedImage,
      `${image.format.toUpperCase()} images can only be attached read-only (like Windows, which refuses a read-write ISO)`,
      { reason: 'iso-read-write' });
  }
  if (f.fileRange(image.subtype)) {
    const offset = typeof d.dataOffset === 'number' ? d.dataOffset : 0;
    const size = typeof d.dataSize === 'number' ? d.dataSize : image.fileSize - offset;
    // sizelimit 0 means "to the end of the file"; only set it when the data stops before the end
    return { engine: 'loop', offset, sizeLimit: offset + size < image.fileSize ? size : 0 };
  }
  if (f.vhdimountChains && image.subtype === 'differencing') return differencing(readOnly);
  if (f.qemuDriver) return { engine: 'qemu', driver: f.qemuDriver };
  throw new WorkerError(ErrorCode.UnsupportedImage, `${f.displayName} images cannot be attached on Linux: no engine reads them`, { reason: 'no-engine' });
}

function differencing(readOnly: boolean): AttachPlan {
  if (!readOnly) {
    throw new WorkerError(ErrorCode.UnsupportedImage,
      'Differencing disks can only be attached read-only on Linux (libvhdi reads them; nothing here writes them safely). Attach it read-only, or merge it on Windows first.',
      { reason: 'differencing-read-write' });
  }
  return { engine: 'vhdimount' };
}
