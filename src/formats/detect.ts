// Format detection by content only (never by file name): each format's detector, in the registry's order.
import type { ImageFormat } from '../common/image';
import type { DetectProbe, FormatDescriptor } from './descriptor';
import { RangeReader } from './reader';
import { DETECTION_ORDER } from './registry';
import { scanVolumeDescriptors, VolumeDescriptor } from './iso/inspect';

export interface Detection { format: FormatDescriptor; descriptors: () => Promise<VolumeDescriptor[]> }

export async function detectWith(r: RangeReader): Promise<Detection> {
  // a 4 KiB read is served again from the reader's cache: the parser's own first reads (a VHDX's 520-byte
  // identifier, a qcow2 or VMDK header) cost no second syscall
  const head = (await r.read(0, 4096)).subarray(0, 512);
  let tail: Promise<Buffer | null> | undefined;
  let descriptors: Promise<VolumeDescriptor[]> | undefined;
  const probe: DetectProbe = {
    head,
    tail: () => (tail ??= r.size >= 512 ? r.read(r.size - 512, 512) : Promise.resolve(null)),
    descriptors: () => (descriptors ??= scanVolumeDescriptors(r)),
  };
  for (const f of DETECTION_ORDER) if (await f.detect(probe)) return { format: f, descriptors: probe.descriptors };
  throw new Error('unreachable: raw takes every file');
}

/** The format of the file at `path`, decided by its content. */
export async function detectFormat(path: string): Promise<ImageFormat> {
  const r = await RangeReader.open(path);
  try {
    return (await detectWith(r)).format.id;
  } finally {
    await r.close();
  }
}
