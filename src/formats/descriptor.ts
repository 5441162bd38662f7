// What each format's folder exports to the registry (registry.ts): its row of the common table (name, extensions)
// plus what only the worker needs: detection, inspection, qemu's name for it. What may be attached how is the
// policy's (src/worker/policy.ts).
import { FORMAT_TABLE, FormatRow, ImageFormat } from '../common/formats';
import type { RangeReader } from './reader';
import type { ParsedImage } from './types';
import type { VolumeDescriptor } from './iso/inspect';

/** The sectors detection looks at, each read on first use. */
export interface DetectProbe {
  /** The first 512 bytes (fewer in a smaller file). */
  readonly head: Buffer;
  /** The last 512 bytes, or null in a file under 512 bytes. */
  tail(): Promise<Buffer | null>;
  /** ISO 9660 / ECMA-167 volume descriptors from 32 KiB on. */
  descriptors(): Promise<VolumeDescriptor[]>;
}

export interface InspectContext {
  file: string;
  /** The volume descriptors (read once, shared with detection). */
  descriptors(): Promise<VolumeDescriptor[]>;
}

export interface FormatDescriptor<F extends ImageFormat = ImageFormat> extends FormatRow {
  readonly id: F;
  /** Detection runs in this order, lowest first: magic numbers at the start, then the VHD footer, ISO descriptors; raw last. */
  readonly detectOrder: number;
  detect(p: DetectProbe): Promise<boolean>;
  inspect(r: RangeReader, ctx: InspectContext): Promise<ParsedImage>;
  /** qemu-storage-daemon's driver name for the format (the Linux engine for everything else), or null. */
  readonly qemuDriver: 'vpc' | 'vhdx' | 'qcow2' | 'vmdk' | 'vdi' | null;
}

/** A format's descriptor: its common table row plus `d`. */
export function describeFormat<F extends ImageFormat>(id: F, d: Omit<FormatDescriptor<F>, 'id' | keyof FormatRow>): FormatDescriptor<F> {
  return { id, ...(FORMAT_TABLE[id] as FormatRow), ...d };
}
