// Format detection by content only (never by file name).
import type { ImageFormat } from '../common/image';
import { RangeReader } from './reader';
import { VHD_COOKIE } from './vhd/inspect';
import { QCOW_MAGIC } from './qcow2/inspect';
import { VMDK_MAGIC, DESCRIPTOR_MARK } from './vmdk/inspect';
import { VDI_SIGNATURE } from './vdi/inspect';
import { VolumeDescriptor, scanVolumeDescriptors, hasUdfNsr } from './iso/inspect';

export interface Detection { format: ImageFormat; descriptors: VolumeDescriptor[] }

export async function detectWith(r: RangeReader): Promise<Detection> {
  const head = await r.read(0, 512);
  const none: VolumeDescriptor[] = [];
  if (head.toString('latin1', 0, 8) === 'vhdxfile') return { format: 'vhdx', descriptors: none };
  if (head.length >= 4 && head.readUInt32BE(0) === QCOW_MAGIC) return { format: 'qcow2', descriptors: none };
  if (head.toString('latin1', 0, 4) === VMDK_MAGIC) return { format: 'vmdk', descriptors: none };
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === VDI_SIGNATURE) return { format: 'vdi', descriptors: none };
  if (r.size >= 512) {
    const tail = await r.read(r.size - 512, 512);
    if (tail.toString('latin1', 0, 8) === VHD_COOKIE) return { format: 'vhd', descriptors: none };
  }
  // dynamic/differencing VHDs keep a footer copy at 0: still a VHD when the end footer is gone
  if (head.toString('latin1', 0, 8) === VHD_COOKIE) return { format: 'vhd', descriptors: none };
  if (head.toString('latin1').replace(/^\uFEFF/, '').startsWith(DESCRIPTOR_MARK)) return { format: 'vmdk', descriptors: none };
  const ds = await scanVolumeDescriptors(r);
  if (hasUdfNsr(ds)) return { format: 'udf', descriptors: ds };
  if (ds.some((d) => d.id === 'CD001')) return { format: 'iso', descriptors: ds };
  return { format: 'raw', descriptors: ds };
}

/** The format of the file at `path`, decided by its content. */
export async function detectFormat(path: string): Promise<ImageFormat> {
  const r = await RangeReader.open(path);
  try {
    return (await detectWith(r)).format;
  } finally {
    await r.close();
  }
}
