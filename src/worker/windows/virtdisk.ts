// VirtDisk operations over the raw bindings: open with the right parameter version and access mask per
// format, attach/detach, physical path, every attached disk, dependency information, disk information.
// Every failure becomes a WorkerError (win32-errors.ts) with Windows' own text in the log.
import koffi from 'koffi';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import { Api, Handle, VIRTDISK_FUNCTIONS, formatMessage, isInvalidHandle, loadApi, multiSz, stubbedVirtDiskFunctions, wstr } from './api';
import * as C from './constants';
import { decodeStorageDependencyInfo } from './deps';
import { win32Error, win32Name } from './win32-errors';
import { attachSddl, currentUserSid } from './security';
import type { DependencyEntry } from '../../common/protocol';

export type Log = (level: 'info' | 'warn' | 'error' | 'debug', msg: string) => void;
export type DiskKind = 'iso' | 'vhd' | 'vhdx' | 'vhdset';
/** What the handle is for: V2 opens need access NONE, V1 (ISO, and the fallback) needs the right bits. */
export type OpenPurpose = 'attach-ro' | 'attach-rw' | 'detach' | 'info';
/** What a CreateFileW handle for GetStorageDependencyInformation names: a disk device, or a volume's root folder. */
export type DeviceKind = 'disk' | 'volume';

/** Windows attaches VHD, VHDX (AVHDX), VHD Sets and ISO/UDF images; the kind from the file extension. */
export function kindFromPath(p: string): DiskKind | null {
  const ext = p.toLowerCase().replace(/^.*(\.[^.\\/]+)$/, '$1');
  if (ext === '.iso') return 'iso';
  if (ext === '.vhd' || ext === '.avhd') return 'vhd';
  if (ext === '.vhdx' || ext === '.avhdx') return 'vhdx';
  if (ext === '.vhds') return 'vhdset';
  return null;
}

export function storageType(kind: DiskKind | null): object {
  if (!kind) return { DeviceId: C.VIRTUAL_STORAGE_TYPE_DEVICE.UNKNOWN, VendorId: C.VENDOR_UNKNOWN };
  const DeviceId = { iso: C.VIRTUAL_STORAGE_TYPE_DEVICE.ISO, vhd: C.VIRTUAL_STORAGE_TYPE_DEVICE.VHD,
    vhdx: C.VIRTUAL_STORAGE_TYPE_DEVICE.VHDX, vhdset: C.VIRTUAL_STORAGE_TYPE_DEVICE.VHDSET }[kind];
  return { DeviceId, VendorId: C.VENDOR_MICROSOFT };
}

/** V1 access bits per purpose (ISO always, VHD/VHDX only on Windows 7, which has no V2). */
function v1Access(purpose: OpenPurpose): number {
  const A = C.VIRTUAL_DISK_ACCESS;
  switch (purpose) {
    case 'attach-ro': return A.ATTACH_RO | A.DETACH | A.GET_INFO;
    case 'attach-rw': return A.ATTACH_RW | A.DETACH | A.GET_INFO;
    case 'detach': return A.DETACH | A.GET_INFO;
    case 'info': return A.GET_INFO;
  }
}

export class VirtDisk {
  readonly api: Api;
  /** Functions the real bindings answer with ERROR_CALL_NOT_IMPLEMENTED because this system only stubs them (Wine). */
  private readonly stubbed: readonly string[];
  /** `api`: the koffi bindings; unit tests pass a recording fake (test/unit/windows/fake-api.ts). */
  constructor(private readonly log: Log, api?: Api) {
    this.api = api ?? loadApi(); // koffi resolves each export here: a missing one throws with its name
    this.log('debug', `VirtDisk.dll loaded; resolved ${VIRTDISK_FUNCTIONS.join(', ')}`);
    this.stubbed = api ? [] : stubbedVirtDiskFunctions();
    if (this.stubbed.length) this.log('warn', `VirtDisk.dll only stubs ${this.stubbed.join(', ')} here (Wine): they answer ERROR_CALL_NOT_IMPLEMENTED`);
  }

  /** Throws the mapped WorkerError for a non-zero Win32 code, logging FormatMessageW's text. */
  fail(code: number, what: string, path?: string): never {
    let text: string;
    try { text = formatMessage(code, this.api); } catch (e) { text = `(FormatMessageW failed: ${(e as Error).message})`; }
    this.log('warn', `${what}: ${win32Name(code)} (${code >>> 0}): ${text}`);
    throw win32Error(code, what, path ? { path } : {});
  }

  check(code: number, what: string, path?: string): void {
    if (code !== 0) this.fail(code, what, path);
  }

  lastError(what: string, path?: string): never {
    this.fail(this.api.GetLastError(), what, path);
  }

  /**
   * ISO: V1 with VIRTUAL_DISK_ACCESS_READ bits (the only form VirtDisk accepts for ISO). VHD/VHDX: V2 with access
   * NONE (ReadOnly for read-only attach, GetInfoOnly for queries), as Microsoft's samples do; if V2 is rejected
   * with 87 (Windows 7, and Wine, know only V1) retry once with V1 and explicit access bits.
   */
  open(path: string, kind: DiskKind | null, purpose: OpenPurpose): Handle {
    if (purpose === 'detach') return this.openForDetach(path, kind);
    const type = storageType(kind);
    const out: [Handle | null] = [null];
    const v1 = () => {
      const access = kind === 'iso' ? C.VIRTUAL_DISK_ACCESS.READ : v1Access(purpose);
      const params = { Version: C.OPEN_VIRTUAL_DISK_VERSION.V1, u: { Version1: { RWDepth: C.OPEN_VIRTUAL_DISK_RW_DEPTH_DEFAULT } } };
      return this.api.OpenVirtualDisk(type, path, access, C.OPEN_VIRTUAL_DISK_FLAG.NONE, params, out);
    };
    let rc: number;
    if (kind === 'iso') {
      rc = v1();
    } else {
      const params = { Version: C.OPEN_VIRTUAL_DISK_VERSION.V2, u: { Version2: {
        GetInfoOnly: purpose === 'info' ? 1 : 0, ReadOnly: purpose === 'attach-ro' ? 1 : 0, ResiliencyGuid: C.VENDOR_UNKNOWN } } };
      rc = this.api.OpenVirtualDisk(type, path, C.VIRTUAL_DISK_ACCESS.NONE, C.OPEN_VIRTUAL_DISK_FLAG.NONE, params, out);
      if (rc === C.ERROR.INVALID_PARAMETER) {
        this.log('debug', `OpenVirtualDisk V2 rejected with 87 for ${path}; retrying with V1 parameters`);
        rc = v1();
      }
    }
    this.check(rc, `Opening ${path}`, path);
    if (isInvalidHandle(out[0])) throw new WorkerError(ErrorCode.OsError, `Opening ${path}: OpenVirtualDisk succeeded without a handle`, { path });
    return out[0]!;
  }

  /**
   * Detach open of a disk anyone attached. The OpenVirtualDisk remarks: a permanently attached disk is reopened with
   * DETACH access, and without write access when it was attached read-only (the image is then shared for reading
   * only, and a write open fails with 32). So first V1 with mask DETACH and RWDepth 0 (no store opened read/write),
   * as Far Manager and Vanara open for detach; on ACCESS_DENIED or SHARING_VIOLATION, V2 with access NONE and
   * ReadOnly (the samples' V2 shape, without write access). Failing both, the access-denied answer wins: elevation
   * may fix it ("Retry as Administrator").
   */
  private openForDetach(path: string, kind: DiskKind | null): Handle {
    const type = storageType(kind);
    const A = C.VIRTUAL_DISK_ACCESS;
    const attempts: { what: string; mask: number; params: object }[] = [
      { what: 'V1 DETACH, RWDepth 0', mask: A.DETACH, params: { Version: C.OPEN_VIRTUAL_DISK_VERSION.V1, u: { Version1: { RWDepth: C.OPEN_VIRTUAL_DISK_RW_DEPTH_NONE } } } },
    ];
    if (kind !== 'iso') {
      attempts.push({ what: 'V2 NONE, ReadOnly', mask: A.NONE, params: { Version: C.OPEN_VIRTUAL_DISK_VERSION.V2, u: { Version2: { GetInfoOnly: 0, ReadOnly: 1, ResiliencyGuid: C.VENDOR_UNKNOWN } } } });
    }
    const codes: number[] = [];
    for (const a of attempts) {
      const out: [Handle | null] = [null];
      const rc = this.api.OpenVirtualDisk(type, path, a.mask, C.OPEN_VIRTUAL_DISK_FLAG.NONE, a.params, out);
      if (rc === 0 && !isInvalidHandle(out[0])) return out[0]!;
      if (rc === 0) throw new WorkerError(ErrorCode.OsError, `Opening ${path}: OpenVirtualDisk succeeded without a handle`, { path });
      codes.push(rc);
      if (rc !== C.ERROR.ACCESS_DENIED && rc !== C.ERROR.SHARING_VIOLATION) break;
      this.log('debug', `OpenVirtualDisk for detach (${a.what}) of ${path}: ${win32Name(rc)}`);
    }
    this.fail(codes.includes(C.ERROR.ACCESS_DENIED) ? C.ERROR.ACCESS_DENIED : codes[codes.length - 1], `Opening ${path} to detach it`, path);
  }

  /** The security descriptor of security.ts (SYSTEM, Administrators, this user), built for the call and freed after. */
  attach(h: Handle, path: string, o: { readOnly: boolean; permanent: boolean; noDriveLetter?: boolean }): void {
    const F = C.ATTACH_VIRTUAL_DISK_FLAG;
    const flags = (o.readOnly ? F.READ_ONLY : 0) | (o.permanent ? F.PERMANENT_LIFETIME : 0) | (o.noDriveLetter ? F.NO_DRIVE_LETTER : 0);
    const sddl = attachSddl(currentUserSid(this.api, (t) => this.close(t)), o.readOnly);
    const sd: [unknown] = [null];
    if (!this.api.ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, C.SDDL_REVISION_1, sd, null)) {
      this.lastError('Building the disk security descriptor');
    }
    try {
      const params = { Version: C.ATTACH_VIRTUAL_DISK_VERSION.V1, u: { Version1: { Reserved: 0 } } };
      this.check(this.api.AttachVirtualDisk(h, sd[0], flags, 0, params, null), `Attaching ${path}`, path);
    } finally {
      this.api.LocalFree(sd[0]);
    }
  }

  detach(h: Handle, path: string): void {
    this.check(this.api.DetachVirtualDisk(h, C.DETACH_VIRTUAL_DISK_FLAG_NONE, 0), `Detaching ${path}`, path);
  }

  /** `\\.\PhysicalDriveN` or `\\.\CdRomN` of an attached disk. */
  physicalPath(h: Handle, path: string): string {
    let size = 520;
    for (let attempt = 0; attempt < 4; attempt++) {
      const buf = Buffer.alloc(size);
      const sz: [number] = [size];
      const rc = this.api.GetVirtualDiskPhysicalPath(h, sz, buf);
      if (rc === C.ERROR.INSUFFICIENT_BUFFER) { size = Math.max(sz[0], size * 2); continue; }
      this.check(rc, `Finding the device of ${path}`, path);
      return wstr(buf);
    }
    this.fail(C.ERROR.INSUFFICIENT_BUFFER, `Finding the device of ${path}`, path);
  }

  /** Image paths of every attached virtual disk on the machine (MULTI_SZ), from any tool. */
  allAttachedPaths(): string[] {
    let size = 4096;
    for (let attempt = 0; attempt < 6; attempt++) {
      const buf = Buffer.alloc(size);
      const sz: [number] = [size];
      const rc = this.api.GetAllAttachedVirtualDiskPhysicalPaths(sz, buf);
      if (rc === C.ERROR.INSUFFICIENT_BUFFER) { size = Math.max(sz[0], size * 2); continue; }
      if (rc === C.ERROR.CALL_NOT_IMPLEMENTED && this.stubbed.includes('GetAllAttachedVirtualDiskPhysicalPaths')) {
        throw new WorkerError(ErrorCode.NotSupported, 'Attached virtual disks cannot be listed on this system: its virtdisk.dll does not implement '
          + 'GetAllAttachedVirtualDiskPhysicalPaths (a Wine stub; ERROR_CALL_NOT_IMPLEMENTED)', { win32: rc });
      }
      this.check(rc, 'Listing attached virtual disks');
      return multiSz(buf, Math.min(sz[0] || size, size));
    }
    this.fail(C.ERROR.INSUFFICIENT_BUFFER, 'Listing attached virtual disks');
  }

  /**
   * GetStorageDependencyInformation, Version 2 entries, growing the buffer on ERROR_INSUFFICIENT_BUFFER to the size
   * Windows asks for. The entries' strings point into `buf`, so they are decoded before it goes out of scope.
   */
  dependencies(h: Handle, flags: number, what: string): DependencyEntry[] {
    let size = 1024;
    for (let attempt = 0; attempt < 5; attempt++) {
      const buf = Buffer.alloc(size);
      buf.writeInt32LE(C.STORAGE_DEPENDENCY_INFO_VERSION_2, 0);
      const used: [number] = [0];
      const rc = this.api.GetStorageDependencyInformation(h, flags, size, buf, used);
      // retry with the size Windows reports, and the same flags (the sample drops DISK_HANDLE here: a bug)
      if (rc === C.ERROR.INSUFFICIENT_BUFFER) { size = used[0] > size ? used[0] : size * 2; continue; }
      this.check(rc, `Reading the storage dependencies of ${what}`);
      return decodeStorageDependencyInfo(buf, koffiAddress(buf), used[0] || size);
    }
    this.fail(C.ERROR.INSUFFICIENT_BUFFER, `Reading the storage dependencies of ${what}`);
  }

  /** One GET_VIRTUAL_DISK_INFO query: returns the union's bytes (offset 8 on) or null when Windows refuses it. */
  query(h: Handle, version: number, path: string): Buffer | null {
    let size = 1024;
    for (let attempt = 0; attempt < 4; attempt++) {
      const buf = Buffer.alloc(size);
      buf.writeInt32LE(version, 0);
      const sz: [number] = [size];
      const used: [number] = [0];
      const rc = this.api.GetVirtualDiskInformation(h, sz, buf, used);
      if (rc === C.ERROR.INSUFFICIENT_BUFFER) { size = Math.max(sz[0], size * 2); continue; }
      if (rc !== 0) { this.log('debug', `GetVirtualDiskInformation(${version}) on ${path}: ${win32Name(rc)}`); return null; }
      return buf.subarray(8, Math.max(8, Math.min(used[0] || sz[0] || size, size)));
    }
    return null;
  }

  /**
   * A kernel32 handle for GetStorageDependencyInformation (the docs name no rights; the call only queries):
   * - disk (`\\.\PhysicalDriveN`): access 0, share read/write. The sample's GENERIC_READ on a physical drive is
   *   raw read access, which only administrators have; the query needs none.
   * - volume: its root folder (`X:\`, `\\?\Volume{…}\`) with FILE_READ_ATTRIBUTES, share read/write/delete and
   *   BACKUP_SEMANTICS (needed to open a folder), as Far Manager does: any user who can see the drive may do this,
   *   where a volume device open (`\\.\X:`) for reading needs administrator rights.
   */
  openDevice(path: string, kind: DeviceKind): Handle {
    const h = kind === 'disk'
      ? this.api.CreateFileW(path, 0, C.FILE_SHARE_READ | C.FILE_SHARE_WRITE, null, C.OPEN_EXISTING, C.FILE_ATTRIBUTE_NORMAL, null)
      : this.api.CreateFileW(path, C.FILE_READ_ATTRIBUTES, C.FILE_SHARE_READ | C.FILE_SHARE_WRITE | C.FILE_SHARE_DELETE, null,
        C.OPEN_EXISTING, C.FILE_FLAG_BACKUP_SEMANTICS, null);
    if (isInvalidHandle(h)) this.lastError(`Opening ${path}`, path);
    return h;
  }

  close(h: Handle | null): void { if (!isInvalidHandle(h)) this.api.CloseHandle(h!); }
}

// koffi hands a Buffer's own memory to the call, so its address is where the TYPE_2 pointers point.
function koffiAddress(buf: Buffer): bigint { return koffi.address(buf); }
