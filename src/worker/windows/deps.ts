// Decoding of GetStorageDependencyInformation's STORAGE_DEPENDENCY_INFO (Version 2) answer. Pure: takes the
// raw bytes and the address they had during the call, because the TYPE_2 string members are pointers into
// that same buffer. Unit-tested on Linux with synthetic buffers (test/unit/windows/deps.test.ts).
import type { DependencyEntry, DependencyFlag } from '../../common/protocol';
import { DEPENDENT_DISK_FLAG, VIRTUAL_STORAGE_TYPE_DEVICE, VENDOR_MICROSOFT } from './constants';

export const SDI_HEADER = 8;
export const TYPE_2_SIZE = 64;

const FLAG_NAMES: [number, DependencyFlag][] = [
  [DEPENDENT_DISK_FLAG.READ_ONLY, 'read-only'],
  [DEPENDENT_DISK_FLAG.PARENT, 'parent'],
  [DEPENDENT_DISK_FLAG.PERMANENT_LIFETIME, 'permanent-lifetime'],
  [DEPENDENT_DISK_FLAG.FULLY_ALLOCATED, 'fully-allocated'],
  [DEPENDENT_DISK_FLAG.NO_HOST_DISK, 'no-host-disk'],
  [DEPENDENT_DISK_FLAG.REMOVABLE, 'removable'],
  [DEPENDENT_DISK_FLAG.NO_DRIVE_LETTER, 'no-drive-letter'],
  [DEPENDENT_DISK_FLAG.SYSTEM_VOLUME, 'system-volume'],
  [DEPENDENT_DISK_FLAG.REMOTE, 'remote'],
  [DEPENDENT_DISK_FLAG.MULT_BACKING_FILES, 'mult-backing-files'],
];

export function dependencyFlags(bits: number): DependencyFlag[] {
  return FLAG_NAMES.filter(([bit]) => (bits & bit) !== 0).map(([, name]) => name);
}

const DEVICE_NAMES: Record<number, DependencyEntry['storageType']['device']> = {
  [VIRTUAL_STORAGE_TYPE_DEVICE.ISO]: 'iso', [VIRTUAL_STORAGE_TYPE_DEVICE.VHD]: 'vhd',
  [VIRTUAL_STORAGE_TYPE_DEVICE.VHDX]: 'vhdx', [VIRTUAL_STORAGE_TYPE_DEVICE.VHDSET]: 'vhdset',
};

/** GUID at `off` in Windows' mixed-endian layout -> lowercase text. */
export function guidAt(buf: Buffer, off: number): string {
  const h = (o: number, n: number) => buf.subarray(o, o + n).toString('hex');
  const d1 = buf.readUInt32LE(off).toString(16).padStart(8, '0');
  const d2 = buf.readUInt16LE(off + 4).toString(16).padStart(4, '0');
  const d3 = buf.readUInt16LE(off + 6).toString(16).padStart(4, '0');
  return `${d1}-${d2}-${d3}-${h(off + 8, 2)}-${h(off + 10, 6)}`;
}

const MICROSOFT = `${VENDOR_MICROSOFT.Data1.toString(16)}-${VENDOR_MICROSOFT.Data2.toString(16)}-${VENDOR_MICROSOFT.Data3.toString(16)}-`
  + `${Buffer.from(VENDOR_MICROSOFT.Data4.slice(0, 2)).toString('hex')}-${Buffer.from(VENDOR_MICROSOFT.Data4.slice(2)).toString('hex')}`;

function vendorName(guid: string): string {
  if (guid === MICROSOFT) return 'microsoft';
  if (guid === '00000000-0000-0000-0000-000000000000') return 'unknown';
  return guid;
}

/** Reads a NUL-terminated UTF-16 string the entry points at; the pointer must fall inside the buffer. */
function stringAt(buf: Buffer, base: bigint, ptr: bigint, what: string): string | null {
  if (ptr === 0n) return null;
  const off = ptr - base;
  if (off < 0n || off >= BigInt(buf.length)) {
    throw new Error(`STORAGE_DEPENDENCY_INFO: ${what} points outside the buffer (0x${ptr.toString(16)}); the struct layout is wrong`);
  }
  let end = Number(off);
  const start = end;
  while (end + 1 < buf.length && (buf[end] | buf[end + 1]) !== 0) end += 2;
  return buf.toString('utf16le', start, end);
}

/**
 * `buf` holds the answer, `base` is the address the buffer had during the call (koffi.address(buf)),
 * `used` the size Windows reported. Entries follow the 8-byte header, 64 bytes each (x64/arm64 layout).
 */
export function decodeStorageDependencyInfo(buf: Buffer, base: bigint, used = buf.length): DependencyEntry[] {
  if (used < SDI_HEADER || buf.length < SDI_HEADER) throw new Error(`STORAGE_DEPENDENCY_INFO: answer of ${used} bytes is shorter than its header`);
  const version = buf.readInt32LE(0);
  if (version !== 2) throw new Error(`STORAGE_DEPENDENCY_INFO: expected Version 2, Windows answered ${version}`);
  const count = buf.readUInt32LE(4);
  if (SDI_HEADER + count * TYPE_2_SIZE > buf.length) {
    throw new Error(`STORAGE_DEPENDENCY_INFO: ${count} entries do not fit in ${buf.length} bytes`);
  }
  const out: DependencyEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = SDI_HEADER + i * TYPE_2_SIZE;
    const flags = buf.readUInt32LE(o);
    const deviceId = buf.readUInt32LE(o + 8);
    const vendor = guidAt(buf, o + 12);
    const ptr = (at: number) => buf.readBigUInt64LE(o + at);
    out.push({
      dependencyDevice: stringAt(buf, base, ptr(32), 'DependencyDeviceName') ?? '',
      hostVolume: stringAt(buf, base, ptr(40), 'HostVolumeName'),
      dependentVolume: stringAt(buf, base, ptr(48), 'DependentVolumeName'),
      dependentVolumeRelativePath: stringAt(buf, base, ptr(56), 'DependentVolumeRelativePath') ?? '',
      ancestorLevel: buf.readUInt32LE(o + 28),
      storageType: { device: DEVICE_NAMES[deviceId] ?? 'unknown', vendor: vendorName(vendor) },
      flags: dependencyFlags(flags),
    });
  }
  return out;
}
