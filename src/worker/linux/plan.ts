// The Linux engine's parameters for an image: which engine the policy (../policy.ts) names, with its byte range or
// driver (the format's descriptor, formats/registry.ts). An image whose whole disk is one byte range of one file
// (fixed VHD, a fixed VHDX whose BAT maps every block in order, a static VDI with an identity block map, a VMDK with a
// single FLAT extent) goes straight onto a loop device with an offset and a size limit: the kernel serves it at disk
// speed, no FUSE, no daemon, and nothing but that range (never the metadata) can be written through the device.
import * as fs from 'fs';
import type { ImageInfo } from '../../common/image';
import { FORMAT_REGISTRY } from '../../formats/registry';
import { checkAttach, linuxEngine } from '../policy';
import { vdiskFuseMissing } from './engines/vdisk-fuse';

export type AttachPlan =
  /** `file`: the file the loop device sits on (the image, or a VMDK's extent file); `layer`: it is a layer to open
   * through layers.ts' checks, not the image itself. `blockSize`: the disk's logical sector size when not 512. */
  | { engine: 'loop'; file: string; offset: number; sizeLimit: number; layer?: boolean; blockSize?: number }
  | { engine: 'qemu'; driver: 'vpc' | 'vhdx' | 'qcow2' | 'vmdk' | 'vdi' }
  | { engine: 'vhdimount' }
  /** vdisk's own FUSE server (engines/vdisk-fuse.ts): read-only only. */
  | { engine: 'vdisk-fuse' };

export function planAttach(image: ImageInfo, readOnly: boolean): AttachPlan {
  checkAttach(image, readOnly, 'linux'); // the format rules (policy.ts); the server checked already, this keeps plan honest alone
  const d = image.details ?? {};
  const engine = linuxEngine(image);
  if (engine === 'vhdimount' || engine === 'vdisk-fuse') return { engine };
  // measured (bench/BENCHMARKS.md, issue 15.2): read-only, a plain dynamic VHD/VHDX reads cold about twice as fast
  // through vdisk's server (spliced replies) as through qemu 7.2's export, for ~10 ms more per attach with a spare
  // server; qemu stays for read-write, for a worker that is not root (the server mounts with mount(2)), when the
  // server cannot run here, and when VDISK_FUSE_DYNAMIC=0
  if (engine === 'qemu' && readOnly && (image.format === 'vhd' || image.format === 'vhdx') && !flatRun(image) && dynamicOnVdiskFuse()) {
    return { engine: 'vdisk-fuse' };
  }
  if (engine === 'qemu') {
    const flat = flatRun(image);
    if (flat) return flat;
    const driver = FORMAT_REGISTRY[image.format].qemuDriver;
    if (!driver) throw new Error(`policy names qemu for ${image.format}, whose descriptor has no qemu driver`);
    return { engine, driver };
  }
  const offset = typeof d.dataOffset === 'number' ? d.dataOffset : 0;
  const size = typeof d.dataSize === 'number' ? d.dataSize : image.fileSize - offset;
  // sizelimit 0 means "to the end of the file"; only set it when the data stops before the end
  return { engine: 'loop', file: image.path, offset, sizeLimit: offset + size < image.fileSize ? size : 0 };
}

/** The loop plan of an image that qemu would otherwise serve, when its disk is one byte range of one file. */
function flatRun(image: ImageInfo): AttachPlan | null {
  const d = image.details ?? {};
  const blockSize = image.logicalSectorSize === 4096 ? { blockSize: 4096 } : {};
  const f = d.flatData as { offset?: unknown; size?: unknown } | undefined;
  if ((image.format === 'vhdx' || image.format === 'vdi') && image.subtype === 'fixed' && f
    && typeof f.offset === 'number' && typeof f.size === 'number' && f.size === image.virtualSize && f.offset + f.size <= image.fileSize) {
    return { engine: 'loop', file: image.path, offset: f.offset, sizeLimit: f.offset + f.size < image.fileSize ? f.size : 0, ...blockSize };
  }
  if (image.format === 'vmdk' && image.subtype === 'fixed' && d.descriptorFile === true && d.createType === 'monolithicFlat') {
    const extents = Array.isArray(d.extents) ? d.extents as { type: string }[] : [];
    const links = image.chain.filter((c) => c.role === 'extent');
    const e = links[0]?.extent;
    // exactly one extent, FLAT, in the chain (checked by layers.ts), covering the whole disk; no parent
    if (extents.length !== 1 || links.length !== 1 || image.chain.length !== 2 || !e || e.type !== 'FLAT' || e.size !== image.virtualSize) return null;
    // a short extent file reads as zeros past its end in qemu; the loop device would be smaller: leave that to qemu
    if (fileSize(links[0].path) < e.offset + e.size) return null;
    return { engine: 'loop', file: links[0].path, offset: e.offset, sizeLimit: e.size, layer: true };
  }
  return null;
}

function fileSize(p: string): number {
  try { return fs.statSync(p).size; } catch { return -1; }
}

/** Whether read-only plain dynamic VHD/VHDX go to vdisk's own FUSE server (the default where it can run). */
function dynamicOnVdiskFuse(): boolean {
  if (process.env.VDISK_FUSE_DYNAMIC === '0') return false;
  return (process.getuid?.() ?? -1) === 0 && vdiskFuseMissing() === null;
}
