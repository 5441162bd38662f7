// The Linux engine's parameters for an image: which engine the policy (../policy.ts) names, with its byte range or
// the format's qemu driver (its descriptor, formats/registry.ts).
import type { ImageInfo } from '../../common/image';
import { FORMAT_REGISTRY } from '../../formats/registry';
import { checkAttach, linuxEngine } from '../policy';

export type AttachPlan =
  | { engine: 'loop'; offset: number; sizeLimit: number }
  | { engine: 'qemu'; driver: 'vpc' | 'vhdx' | 'qcow2' | 'vmdk' | 'vdi' }
  | { engine: 'vhdimount' };

export function planAttach(image: ImageInfo, readOnly: boolean): AttachPlan {
  checkAttach(image, readOnly, 'linux'); // the format rules (policy.ts); the server checked already, this keeps plan honest alone
  const d = image.details ?? {};
  const engine = linuxEngine(image);
  if (engine === 'vhdimount') return { engine };
  if (engine === 'qemu') {
    const driver = FORMAT_REGISTRY[image.format].qemuDriver;
    if (!driver) throw new Error(`policy names qemu for ${image.format}, whose descriptor has no qemu driver`);
    return { engine, driver };
  }
  const offset = typeof d.dataOffset === 'number' ? d.dataOffset : 0;
  const size = typeof d.dataSize === 'number' ? d.dataSize : image.fileSize - offset;
  // sizelimit 0 means "to the end of the file"; only set it when the data stops before the end
  return { engine: 'loop', offset, sizeLimit: offset + size < image.fileSize ? size : 0 };
}
