// The rules of a new disk, as Windows' CreateVirtualDisk (V2) applies them: formats, sizes, block and sector sizes.
// Pure (no I/O): the "New Virtual Disk..." input boxes validate with it, the worker enforces it.

const MiB = 2 ** 20;
export const VHD_MAX_SIZE = 2040 * 2 ** 30;
export const VHDX_MAX_SIZE = 64 * 2 ** 40;

export interface CreateSpec {
  path: string;
  format: 'vhd' | 'vhdx';
  type: 'fixed' | 'dynamic';
  size: number;
  /** Default: 2 MiB (VHD), 32 MiB (VHDX), as Windows. Ignored by a fixed VHD, which has no blocks. */
  blockSize?: number;
  /** 512 (default) or 4096 (VHDX only). */
  logicalSectorSize?: number;
  /** VHDX: 4096 (default, as Windows) or 512. A VHD has no such field: only 512. */
  physicalSectorSize?: number;
}

const pow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** The spec with defaults filled in, or an Error naming the first invalid value. */
export function checkCreateSpec(s: CreateSpec): Required<CreateSpec> {
  const bad = (m: string) => new Error(m);
  if (s.format !== 'vhd' && s.format !== 'vhdx') throw bad(`format must be vhd or vhdx, not ${s.format}`);
  if (s.type !== 'fixed' && s.type !== 'dynamic') throw bad(`type must be fixed or dynamic, not ${s.type}`);
  const logical = s.logicalSectorSize ?? 512;
  const physical = s.physicalSectorSize ?? (s.format === 'vhdx' ? 4096 : 512);
  if (logical !== 512 && logical !== 4096) throw bad(`the logical sector size is 512 or 4096, not ${logical}`);
  if (physical !== 512 && physical !== 4096) throw bad(`the physical sector size is 512 or 4096, not ${physical}`);
  if (s.format === 'vhd' && logical !== 512) throw bad('a VHD has 512-byte logical sectors; choose VHDX for 4096');
  if (s.format === 'vhd' && physical !== 512) throw bad('a VHD records no physical sector size (it is always 512); choose VHDX for 4096');
  if (physical < logical) throw bad('the physical sector size cannot be smaller than the logical one');
  const blockSize = s.blockSize ?? (s.format === 'vhdx' ? 32 * MiB : 2 * MiB);
  if (s.format === 'vhdx' && (!pow2(blockSize) || blockSize < MiB || blockSize > 256 * MiB)) {
    throw bad(`a VHDX block size is a power of two from 1 MiB to 256 MiB, not ${blockSize}`);
  }
  if (s.format === 'vhd' && (!pow2(blockSize) || blockSize < 512 * 1024 || blockSize > 256 * MiB)) {
    throw bad(`a VHD block size is a power of two from 512 KiB to 256 MiB, not ${blockSize}`);
  }
  const max = s.format === 'vhd' ? VHD_MAX_SIZE : VHDX_MAX_SIZE;
  if (!Number.isSafeInteger(s.size) || s.size <= 0) throw bad('the size must be a positive number of bytes');
  if (s.size > max) throw bad(`a ${s.format.toUpperCase()} holds at most ${max / 2 ** 30} GiB`);
  if (s.size % logical !== 0) throw bad(`the size must be a multiple of the ${logical}-byte logical sector`);
  if (s.size < 3 * MiB) throw bad('the smallest disk Windows creates is 3 MiB');
  return { path: s.path, format: s.format, type: s.type, size: s.size, blockSize, logicalSectorSize: logical, physicalSectorSize: physical };
}

