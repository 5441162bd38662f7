// Which Linux engine turns an image into a block device, decided from the format layer's reading.
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import type { ImageInfo } from '../../common/image';
import { WorkerError } from '../errors';

export type AttachPlan =
  | { engine: 'loop'; offset: number; sizeLimit: number }
  | { engine: 'qemu'; driver: 'vpc' | 'vhdx' | 'qcow2' | 'vmdk' | 'vdi' }
  | { engine: 'vhdimount' };

export function planAttach(image: ImageInfo, readOnly: boolean): AttachPlan {
  const d = image.details ?? {};
  const range = (): AttachPlan => {
    const offset = typeof d.dataOffset === 'number' ? d.dataOffset : 0;
    const size = typeof d.dataSize === 'number' ? d.dataSize : image.fileSize - offset;
    // sizelimit 0 means "to the end of the file"; only set it when the data stops before the end
    return { engine: 'loop', offset, sizeLimit: offset + size < image.fileSize ? size : 0 };
  };
  switch (image.format) {
    case 'raw':
      return range();
    case 'iso':
    case 'udf':
      if (!readOnly) {
        throw new WorkerError(ErrorCode.UnsupportedImage,
          `${path.basename(image.path)}: ${image.format.toUpperCase()} images can only be attached read-only (like Windows, which refuses a read-write ISO)`,
          { reason: 'iso-read-write' });
      }
      return range();
    case 'vhd':
      if (image.subtype === 'fixed') return range();
      if (image.subtype === 'differencing') return differencing(readOnly);
      return { engine: 'qemu', driver: 'vpc' };
    case 'vhdx':
      if (image.subtype === 'differencing') return differencing(readOnly);
      return { engine: 'qemu', driver: 'vhdx' };
    case 'qcow2': case 'vmdk': case 'vdi':
      return { engine: 'qemu', driver: image.format };
  }
}

function differencing(readOnly: boolean): AttachPlan {
  if (!readOnly) {
    throw new WorkerError(ErrorCode.UnsupportedImage,
      'Differencing disks can only be attached read-only on Linux (libvhdi reads them; nothing here writes them safely). Attach it read-only, or merge it on Windows first.',
      { reason: 'differencing-read-write' });
  }
  return { engine: 'vhdimount' };
}
