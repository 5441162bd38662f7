// Win32 / VirtDisk error codes -> WorkerError with a message that names the cause and what to do.
// Pure (no koffi): the FormatMessageW text is produced by the caller (api.ts) and only logged.
import { ErrorCode, ErrorData } from '../../common/protocol';
import { WorkerError } from '../errors';
import type { ErrorReason, VirtDiskErrorReason } from '../../common/error-reasons';

interface Known { name: string; code: ErrorCode; reason: ErrorReason; text: string }

const ELEVATE = 'Run the operation elevated: choose "Retry as Administrator", or start VS Code\'s worker from an administrator prompt.';

const KNOWN: Record<number, Known> = {
  2: { name: 'ERROR_FILE_NOT_FOUND', code: ErrorCode.NotFound, reason: 'not-found',
    text: 'the image file (or a file it needs) was not found. Check the path; images on SD cards used in native mode cannot be attached either.' },
  3: { name: 'ERROR_PATH_NOT_FOUND', code: ErrorCode.NotFound, reason: 'not-found', text: 'the folder holding the image does not exist. Check the path.' },
  5: { name: 'ERROR_ACCESS_DENIED', code: ErrorCode.PermissionDenied, reason: 'needs-elevation',
    text: `access was denied: attaching, detaching and opening disks or volumes need administrator rights, or the image file's permissions do not allow this. ${ELEVATE} A VHDX left dirty by an unclean detach also answers this: attach it once read-write elevated (or with Mount-VHD) so Windows replays its log.` },
  32: { name: 'ERROR_SHARING_VIOLATION', code: ErrorCode.Busy, reason: 'in-use',
    text: 'the image is in use: it is already attached, or held open by WSL, Hyper-V, Docker or another program. Detach or close it there first.' },
  80: { name: 'ERROR_FILE_EXISTS', code: ErrorCode.InvalidParams, reason: 'exists',
    text: 'a file with that name already exists, and vdisk never overwrites one. Choose another name, or move the file away first.' },
  50: { name: 'ERROR_NOT_SUPPORTED', code: ErrorCode.NotSupported, reason: 'not-supported',
    text: 'this Windows edition or version does not support the request (for example a read-write ISO, or a flag newer than this build).' },
  87: { name: 'ERROR_INVALID_PARAMETER', code: ErrorCode.OsError, reason: 'invalid-parameter',
    text: 'Windows rejected the request as invalid: the image type may not match its extension, or this Windows build does not know a flag or parameter version that was used. Rename the file to its real type (.vhd, .vhdx, .iso) and update Windows.' },
  120: { name: 'ERROR_CALL_NOT_IMPLEMENTED', code: ErrorCode.NotSupported, reason: 'virtdisk-not-implemented', text: '' },
  122: { name: 'ERROR_INSUFFICIENT_BUFFER', code: ErrorCode.OsError, reason: 'insufficient-buffer',
    text: 'Windows kept asking for a larger buffer. Try again; if it persists, report it as a bug.' },
  618: { name: 'ERROR_UNSUPPORTED_COMPRESSION', code: ErrorCode.UnsupportedImage, reason: 'compressed',
    text: 'the image file or the volume holding it is NTFS-compressed, and Windows cannot attach compressed virtual disks. Uncompress it (file Properties > Advanced > clear "Compress contents") and retry.' },
  665: { name: 'ERROR_FILE_SYSTEM_LIMITATION', code: ErrorCode.UnsupportedImage, reason: 'loopback-share',
    text: 'the image is on a network share of this same computer (a loopback share). Open it through its local path instead.' },
  1223: { name: 'ERROR_CANCELLED', code: ErrorCode.Cancelled, reason: 'cancelled', text: 'the operation was cancelled (for example the administrator prompt was declined).' },
  1314: { name: 'ERROR_PRIVILEGE_NOT_HELD', code: ErrorCode.PermissionDenied, reason: 'needs-elevation',
    text: `attaching a virtual disk needs the "Perform volume maintenance tasks" privilege (SE_MANAGE_VOLUME_PRIVILEGE), which only an elevated process holds. ${ELEVATE}` },
  1392: { name: 'ERROR_FILE_CORRUPT', code: ErrorCode.ImageProblem, reason: 'file-corrupt',
    text: 'Windows reports the image as corrupt. An ISO must be a multiple of 2048 bytes, at least 34,816 bytes, and carry a CD001 or UDF identifier; a VHD/VHDX must pass its own checks (run Inspect).' },
  6002: { name: 'ERROR_FILE_ENCRYPTED', code: ErrorCode.UnsupportedImage, reason: 'encrypted',
    text: 'the image is EFS-encrypted (or sits in an encrypted folder), and Windows cannot attach it so. Decrypt it (file Properties > Advanced) and retry.' },
};

// The FACILITY_VIRTUALIZATION (0xC03A00xx) family: VHD/VHDX structure and chain errors.
const VHD_FAMILY: Record<number, [string, ErrorCode, string]> = {
  0x01: ['ERROR_VHD_DRIVE_FOOTER_MISSING', ErrorCode.ImageProblem, 'the VHD footer is missing: the file is truncated or not a VHD. Restore it from a backup or re-create it.'],
  0x02: ['ERROR_VHD_DRIVE_FOOTER_CHECKSUM_MISMATCH', ErrorCode.ImageProblem, 'the VHD footer checksum is wrong: the file is damaged. A dynamic VHD keeps a footer copy at offset 0 that repair tools can restore.'],
  0x03: ['ERROR_VHD_DRIVE_FOOTER_CORRUPT', ErrorCode.ImageProblem, 'the VHD footer is corrupt. Restore the image from a backup.'],
  0x04: ['ERROR_VHD_FORMAT_UNKNOWN', ErrorCode.UnsupportedImage, 'Windows does not recognise this virtual disk format. Check that the extension matches the file (.vhd, .vhdx, .iso).'],
  0x05: ['ERROR_VHD_FORMAT_UNSUPPORTED_VERSION', ErrorCode.UnsupportedImage, 'the VHD format version is not supported by this Windows. Convert it with Convert-VHD or qemu-img.'],
  0x06: ['ERROR_VHD_SPARSE_HEADER_CHECKSUM_MISMATCH', ErrorCode.ImageProblem, 'the dynamic VHD header checksum is wrong: the file is damaged.'],
  0x07: ['ERROR_VHD_SPARSE_HEADER_UNSUPPORTED_VERSION', ErrorCode.UnsupportedImage, 'the dynamic VHD header version is not supported. Convert the image with Convert-VHD or qemu-img.'],
  0x08: ['ERROR_VHD_SPARSE_HEADER_CORRUPT', ErrorCode.ImageProblem, 'the dynamic VHD header is corrupt. Restore the image from a backup.'],
  0x09: ['ERROR_VHD_BLOCK_ALLOCATION_FAILURE', ErrorCode.OsError, 'Windows could not allocate a block in the image: the volume holding it may be full. Free space and retry.'],
  0x0A: ['ERROR_VHD_BLOCK_ALLOCATION_TABLE_CORRUPT', ErrorCode.ImageProblem, 'the block allocation table is corrupt. Restore the image from a backup.'],
  0x0B: ['ERROR_VHD_INVALID_BLOCK_SIZE', ErrorCode.ImageProblem, 'the image declares an invalid block size.'],
  0x0C: ['ERROR_VHD_BITMAP_MISMATCH', ErrorCode.ImageProblem, 'a sector bitmap does not match the block table: the image is damaged.'],
  0x0D: ['ERROR_VHD_PARENT_VHD_NOT_FOUND', ErrorCode.ImageProblem, 'the parent of this differencing disk was not found. Put the parent where the child\'s locators say (run Inspect to see them) and retry.'],
  0x0E: ['ERROR_VHD_CHILD_PARENT_ID_MISMATCH', ErrorCode.ImageProblem, 'the parent found has a different identifier than the child expects: it was replaced or modified after the child was made. Restore the original parent.'],
  0x0F: ['ERROR_VHD_CHILD_PARENT_TIMESTAMP_MISMATCH', ErrorCode.ImageProblem, 'the parent was modified after this differencing disk was created. Restore the original parent; writing to a parent breaks its children.'],
  0x10: ['ERROR_VHD_METADATA_READ_FAILURE', ErrorCode.ImageProblem, 'Windows could not read the image metadata. Check the file and the disk holding it.'],
  0x11: ['ERROR_VHD_METADATA_WRITE_FAILURE', ErrorCode.OsError, 'Windows could not write the image metadata. Check that the file and its volume are writable, or attach read-only.'],
  0x12: ['ERROR_VHD_INVALID_SIZE', ErrorCode.ImageProblem, 'the image declares an invalid size.'],
  0x13: ['ERROR_VHD_INVALID_FILE_SIZE', ErrorCode.ImageProblem, 'the file size does not match what the image header declares: it is truncated.'],
  0x14: ['ERROR_VIRTDISK_PROVIDER_NOT_FOUND', ErrorCode.UnsupportedImage, 'no virtual disk provider handles this file type. Windows attaches only VHD, VHDX and ISO.'],
  0x15: ['ERROR_VIRTDISK_NOT_VIRTUAL_DISK', ErrorCode.NotAttached, 'the device is not a virtual disk.'],
  0x16: ['ERROR_VHD_PARENT_VHD_ACCESS_DENIED', ErrorCode.PermissionDenied, 'the parent disk cannot be opened: no permission, or it is in use read-write elsewhere. Check its permissions and detach it elsewhere.'],
  0x17: ['ERROR_VHD_CHILD_PARENT_SIZE_MISMATCH', ErrorCode.ImageProblem, 'the parent\'s size differs from the child\'s: the parent was resized after the child was made. Restore the original parent.'],
  0x18: ['ERROR_VHD_DIFFERENCING_CHAIN_CYCLE_DETECTED', ErrorCode.ImageProblem, 'the differencing chain loops back on itself. Fix the parent locators (run Inspect to see the chain).'],
  0x19: ['ERROR_VHD_DIFFERENCING_CHAIN_ERROR_IN_PARENT', ErrorCode.ImageProblem, 'a disk further up the differencing chain has an error. Inspect the parents one by one.'],
  0x1A: ['ERROR_VIRTUAL_DISK_LIMITATION', ErrorCode.NotSupported, 'the request exceeds what this Windows supports for virtual disks.'],
  0x1B: ['ERROR_VHD_INVALID_TYPE', ErrorCode.ImageProblem, 'the image declares an invalid disk type.'],
  0x1C: ['ERROR_VHD_INVALID_STATE', ErrorCode.Busy, 'the disk is in a state that does not allow this (for example already attached, or being merged).'],
  0x1D: ['ERROR_VIRTDISK_UNSUPPORTED_DISK_SECTOR_SIZE', ErrorCode.UnsupportedImage, 'the physical disk holding the image has a sector size the VHD format does not support. Use VHDX or move the image.'],
  0x1E: ['ERROR_VIRTDISK_DISK_ALREADY_OWNED', ErrorCode.Busy, 'the disk is already attached (owned by this or another machine). Detach it first.'],
  0x1F: ['ERROR_VIRTDISK_DISK_ONLINE_AND_WRITABLE', ErrorCode.Busy, 'the disk is online and writable elsewhere. Take it offline or detach it first.'],
};

export function win32Name(code: number): string {
  const k = KNOWN[code];
  if (k) return k.name;
  if (isVhdFamily(code)) return VHD_FAMILY[code & 0xff]?.[0] ?? `VirtDisk error 0x${code.toString(16).toUpperCase()}`;
  return `Win32 error ${code}`;
}

export function isVhdFamily(code: number): boolean {
  return (code >>> 8) === 0xC03A00;
}

/**
 * `what` names the operation and object ("Attaching C:\x.vhdx"). Every code becomes ErrorCode + message with
 * data.win32 set; codes outside the table still carry their number and name.
 */
export function win32Error(code: number, what: string, extra: ErrorData = {}): WorkerError {
  code = code >>> 0;
  const data: ErrorData = { win32: code, ...extra };
  if (code === 120) {
    return new WorkerError(ErrorCode.NotSupported, 'Virtual disks are not supported on this system (VirtDisk returned 120)',
      { ...data, reason: 'virtdisk-not-implemented' });
  }
  const k = KNOWN[code];
  if (k) return new WorkerError(k.code, `${what} failed: ${k.text} (${k.name}, ${code})`, { reason: k.reason, ...data });
  if (isVhdFamily(code)) {
    const hex = `0x${code.toString(16).toUpperCase()}`;
    const v = VHD_FAMILY[code & 0xff];
    if (v) return new WorkerError(v[1], `${what} failed: ${v[2]} (${v[0]}, ${hex})`, { reason: v[0].toLowerCase() as VirtDiskErrorReason, ...data });
    return new WorkerError(ErrorCode.ImageProblem,
      `${what} failed: the virtual disk driver reported a problem with the image or its chain (${hex}). Run Inspect on the image and its parents; the worker log has Windows' own text.`,
      { reason: 'virtdisk-error', ...data });
  }
  return new WorkerError(ErrorCode.OsError, `${what} failed with Win32 error ${code}; the worker log has Windows' own text for it.`, { reason: 'win32', ...data });
}

/** Every code with a specific message, for tests and docs. */
export const MAPPED_CODES: number[] = [
  ...Object.keys(KNOWN).map(Number),
  ...Object.keys(VHD_FAMILY).map((k) => (0xC03A0000 + Number(k)) >>> 0),
];
