// Image management through VirtDisk: create, reconnect a parent, set identifiers and sector size, merge, compact,
// resize. Each call is made the way Microsoft's Hyper-V storage samples make it (docs/windows.md, "Managing images"):
// V2 opens with access NONE, flags NONE, Overlapped NULL. The long calls run on koffi's thread pool (api.ts), so
// the worker keeps answering; they cannot be cancelled or report progress (that needs OVERLAPPED, not done).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import type { Handle } from './api';
import * as C from './constants';
import { guidAt } from './deps';
import { DiskKind, VirtDisk, kindFromPath, storageType } from './virtdisk';

export interface CreateDiskParams {
  path: string;
  format: 'vhd' | 'vhdx';
  /** fixed: every byte allocated now (CREATE_VIRTUAL_DISK_FLAG_FULL_PHYSICAL_ALLOCATION); dynamic: grows on write. */
  type: 'fixed' | 'dynamic';
  sizeBytes: number;
  /** 0 or absent: Windows' default (VHD 2 MiB, VHDX 32 MiB); fixed disks take none. */
  blockSizeBytes?: number;
  logicalSectorBytes?: 512 | 4096;
  physicalSectorBytes?: 512 | 4096;
}

/** What the Windows backend offers the cross-platform create/set-parent/merge/compact/resize commands. */
export interface ImageManagement {
  createDisk(p: CreateDiskParams): Promise<void>;
  /** Differencing child of `parent` (CreateVirtualDisk V2 with ParentPath; block and sector sizes from the parent). */
  createDifferencing(child: string, parent: string): Promise<void>;
  /** Set-VHD -ParentPath: checks the parent's identifier against the child's record unless told to ignore it. */
  setParent(child: string, parent: string, ignoreIdMismatch: boolean): Promise<void>;
  setPhysicalSectorSize(image: string, bytes: 512 | 4096): Promise<void>;
  setIdentifier(image: string, id: string): Promise<void>;
  /** Merges `child` into its ancestor `depth` levels up (1: its parent). The child file stays; the caller removes it. */
  merge(child: string, depth: number): Promise<void>;
  compact(image: string): Promise<void>;
  /** Grows, or shrinks only as far as the partitions allow (RESIZE_VIRTUAL_DISK_FLAG_NONE refuses an unsafe shrink). */
  resize(image: string, sizeBytes: number): Promise<void>;
}

const MiB = 1024 * 1024;
const ZERO_GUID = C.VENDOR_UNKNOWN;

/** "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" -> the GUID struct (Data1..3 little-endian fields, Data4 bytes). */
export function guidStruct(id: string): { Data1: number; Data2: number; Data3: number; Data4: number[] } {
  const m = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(id.trim());
  if (!m) throw new WorkerError(ErrorCode.InvalidParams, `${JSON.stringify(id)} is not a GUID`);
  const tail = Buffer.from(m[4] + m[5], 'hex');
  return { Data1: parseInt(m[1], 16), Data2: parseInt(m[2], 16), Data3: parseInt(m[3], 16), Data4: [...tail] };
}

/** Refuses what VirtDisk would refuse with a bare 87, naming the rule (values from the CreateVirtualDisk sample). */
export function checkCreateParams(p: CreateDiskParams): void {
  const bad = (msg: string) => { throw new WorkerError(ErrorCode.InvalidParams, `Creating ${p.path}: ${msg}`, { path: p.path }); };
  if (p.format !== 'vhd' && p.format !== 'vhdx') bad(`Windows creates VHD and VHDX images, not ${p.format}`);
  if (p.type !== 'fixed' && p.type !== 'dynamic') bad(`the type is fixed or dynamic, not ${p.type}`);
  const logical = p.logicalSectorBytes ?? 512;
  if (![512, 4096].includes(logical) || (p.format === 'vhd' && logical !== 512)) bad(`logical sector size ${logical} is not allowed (VHD: 512; VHDX: 512 or 4096)`);
  if (p.physicalSectorBytes !== undefined && ![512, 4096].includes(p.physicalSectorBytes)) bad(`physical sector size ${p.physicalSectorBytes} is not 512 or 4096`);
  if (!Number.isSafeInteger(p.sizeBytes) || p.sizeBytes <= 0 || p.sizeBytes % logical) bad(`the size must be a positive multiple of ${logical} bytes`);
  if (p.format === 'vhd' && p.sizeBytes > 2040 * 1024 * MiB) bad('a VHD holds at most 2040 GiB; use VHDX');
  if (p.format === 'vhdx' && p.sizeBytes > 64 * 1024 * 1024 * MiB) bad('a VHDX holds at most 64 TiB');
  const block = p.blockSizeBytes ?? 0;
  if (block && p.type === 'fixed') bad('a fixed disk has no block size');
  if (block && p.format === 'vhd' && block !== 512 * 1024 && block !== 2 * MiB) bad('a dynamic VHD block is 512 KiB or 2 MiB');
  if (block && p.format === 'vhdx' && (block < MiB || block > 256 * MiB || (block & (block - 1)))) bad('a VHDX block is a power of two from 1 MiB to 256 MiB');
}

export class WindowsImageManager implements ImageManagement {
  constructor(private readonly vd: () => VirtDisk) {}

  /** V2 open with access NONE ("the only acceptable access mask for V2 handle opens", every sample). */
  private open(image: string, o: { getInfoOnly?: boolean; noParents?: boolean } = {}): Handle {
    const vd = this.vd();
    const kind = manageableKind(image);
    const out: [Handle | null] = [null];
    const params = { Version: C.OPEN_VIRTUAL_DISK_VERSION.V2, u: { Version2: { GetInfoOnly: o.getInfoOnly ? 1 : 0, ReadOnly: 0, ResiliencyGuid: ZERO_GUID } } };
    const flags = o.noParents ? C.OPEN_VIRTUAL_DISK_FLAG.NO_PARENTS : C.OPEN_VIRTUAL_DISK_FLAG.NONE;
    const rc = vd.api.OpenVirtualDisk(storageType(kind), image, C.VIRTUAL_DISK_ACCESS.NONE, flags, params, out);
    if (rc === C.ERROR.INVALID_PARAMETER) this.explainV2Refusal(vd, image, kind, flags);
    vd.check(rc, `Opening ${image}`, image);
    return out[0]!;
  }

  /**
   * 87 to a V2 open: Windows 7 (and Wine) know only V1. A V1 open (GET_INFO, RWDepth 1) tells that apart from a
   * parameter Windows 8+ dislikes: if it works, this Windows predates V2 and the operation; if it fails, its code
   * is the real answer (Wine: 120).
   */
  private explainV2Refusal(vd: VirtDisk, image: string, kind: DiskKind, flags: number): void {
    const out: [Handle | null] = [null];
    const rc = vd.api.OpenVirtualDisk(storageType(kind), image, C.VIRTUAL_DISK_ACCESS.GET_INFO, flags,
      { Version: C.OPEN_VIRTUAL_DISK_VERSION.V1, u: { Version1: { RWDepth: C.OPEN_VIRTUAL_DISK_RW_DEPTH_DEFAULT } } }, out);
    vd.close(out[0]);
    vd.check(rc, `Opening ${image}`, image);
    throw new WorkerError(ErrorCode.NotSupported,
      `Windows refused OpenVirtualDisk Version 2 for ${path.win32.basename(image)} but accepts Version 1: this Windows predates Windows 8 / Server 2012, which creating, merging, compacting and resizing images through VirtDisk need.`,
      { path: image, win32: C.ERROR.INVALID_PARAMETER, reason: 'needs-windows-8' });
  }

  private async withOpen<T>(image: string, o: { getInfoOnly?: boolean; noParents?: boolean }, fn: (h: Handle, vd: VirtDisk) => Promise<T> | T): Promise<T> {
    const h = this.open(image, o);
    try { return await fn(h, this.vd()); } finally { this.vd().close(h); }
  }

  async createDisk(p: CreateDiskParams): Promise<void> {
    checkCreateParams(p);
    await this.create(p.path, p.format, p.type === 'fixed' ? C.CREATE_VIRTUAL_DISK_FLAG.FULL_PHYSICAL_ALLOCATION : C.CREATE_VIRTUAL_DISK_FLAG.NONE, {
      MaximumSize: BigInt(p.sizeBytes), BlockSizeInBytes: p.blockSizeBytes ?? 0, SectorSizeInBytes: p.logicalSectorBytes ?? 0,
      PhysicalSectorSizeInBytes: p.physicalSectorBytes ?? 0, ParentPath: null,
    });
  }

  async createDifferencing(child: string, parent: string): Promise<void> {
    const kind = manageableKind(child);
    if (kind !== manageableKind(parent)) throw new WorkerError(ErrorCode.InvalidParams, `A differencing disk has its parent's format: ${path.win32.basename(child)} and ${path.win32.basename(parent)} differ`);
    await this.create(child, kind, C.CREATE_VIRTUAL_DISK_FLAG.NONE, { MaximumSize: 0n, BlockSizeInBytes: 0, SectorSizeInBytes: 0, PhysicalSectorSizeInBytes: 0, ParentPath: parent });
  }

  /**
   * CreateVirtualDisk V2, access NONE, security descriptor NULL (the new file takes its folder's ACL like any file),
   * a fresh UniqueId. Never overwrites (Windows answers ERROR_FILE_EXISTS, checked first too); a failure removes what
   * the call may have left.
   */
  private async create(file: string, kind: DiskKind, flags: number, fields: Record<string, unknown>): Promise<void> {
    if (fs.existsSync(file)) throw new WorkerError(ErrorCode.InvalidParams, `${file} already exists: vdisk never overwrites a file`, { path: file, reason: 'exists', win32: C.ERROR.FILE_EXISTS });
    const vd = this.vd();
    const params = { Version: C.CREATE_VIRTUAL_DISK_VERSION.V2, u: { Version2: {
      UniqueId: guidStruct(crypto.randomUUID()), SourcePath: null, OpenFlags: C.OPEN_VIRTUAL_DISK_FLAG.NONE,
      ParentVirtualStorageType: { DeviceId: 0, VendorId: ZERO_GUID }, SourceVirtualStorageType: { DeviceId: 0, VendorId: ZERO_GUID },
      ResiliencyGuid: ZERO_GUID, ...fields } } };
    const out: [Handle | null] = [null];
    const rc = await vd.api.CreateVirtualDisk(storageType(kind), file, C.VIRTUAL_DISK_ACCESS.NONE, null, flags, 0, params, null, out);
    vd.close(out[0]);
    if (rc !== 0) {
      // ERROR_FILE_EXISTS: someone made the file meanwhile, and it is theirs
      if (rc !== C.ERROR.FILE_EXISTS) try { fs.rmSync(file, { force: true }); } catch { /* nothing was left */ }
      vd.fail(rc, `Creating ${file}`, file);
    }
  }

  /**
   * As the SetVirtualDiskInformation sample: the parent's IDENTIFIER and the child's PARENT_IDENTIFIER read on
   * GetInfoOnly + NO_PARENTS handles, compared, then the child reopened (GetInfoOnly FALSE, NO_PARENTS) and
   * PARENT_PATH_WITH_DEPTH (ChildDepth 1) set; Windows 7, which has only PARENT_PATH, answers 87 and gets that.
   */
  async setParent(child: string, parent: string, ignoreIdMismatch: boolean): Promise<void> {
    const parentId = await this.withOpen(parent, { getInfoOnly: true, noParents: true }, (h, vd) => this.guid(vd, h, C.GET_VIRTUAL_DISK_INFO_VERSION.IDENTIFIER, parent));
    const expected = await this.withOpen(child, { getInfoOnly: true, noParents: true }, (h, vd) => this.guid(vd, h, C.GET_VIRTUAL_DISK_INFO_VERSION.PARENT_IDENTIFIER, child));
    if (parentId !== expected && !ignoreIdMismatch) {
      throw new WorkerError(ErrorCode.ImageProblem,
        `${path.win32.basename(parent)} is not the parent ${path.win32.basename(child)} was made from (identifier ${parentId}, the child expects ${expected}). Reconnect it only if you know its data is the same, with "ignore identifier mismatch".`,
        { reason: 'parent-id-mismatch', path: child });
    }
    await this.withOpen(child, { noParents: true }, (h, vd) => {
      const rc = vd.api.SetVirtualDiskInformation(h, { Version: C.SET_VIRTUAL_DISK_INFO.PARENT_PATH_WITH_DEPTH, u: { ParentPathWithDepthInfo: { ChildDepth: 1, ParentFilePath: parent } } });
      if (rc !== C.ERROR.INVALID_PARAMETER) return vd.check(rc, `Setting the parent of ${child}`, child);
      vd.check(vd.api.SetVirtualDiskInformation(h, { Version: C.SET_VIRTUAL_DISK_INFO.PARENT_PATH, u: { ParentFilePath: parent } }), `Setting the parent of ${child}`, child);
    });
  }

  /** VHDX only (the sample: "This operation will only succeed on VHDX"). */
  async setPhysicalSectorSize(image: string, bytes: 512 | 4096): Promise<void> {
    if (bytes !== 512 && bytes !== 4096) throw new WorkerError(ErrorCode.InvalidParams, `physical sector size ${bytes} is not 512 or 4096`);
    await this.withOpen(image, { noParents: true }, (h, vd) => vd.check(vd.api.SetVirtualDiskInformation(h,
      { Version: C.SET_VIRTUAL_DISK_INFO.PHYSICAL_SECTOR_SIZE, u: { VhdPhysicalSectorSize: bytes } }), `Setting the physical sector size of ${image}`, image));
  }

  /** As go-winio: VIRTUAL_DISK_ID (5) for VHDX, IDENTIFIER (2) for VHD. */
  async setIdentifier(image: string, id: string): Promise<void> {
    const guid = guidStruct(id);
    const info = manageableKind(image) === 'vhdx'
      ? { Version: C.SET_VIRTUAL_DISK_INFO.VIRTUAL_DISK_ID, u: { VirtualDiskId: guid } }
      : { Version: C.SET_VIRTUAL_DISK_INFO.IDENTIFIER, u: { UniqueIdentifier: guid } };
    await this.withOpen(image, { noParents: true }, (h, vd) => vd.check(vd.api.SetVirtualDiskInformation(h, info), `Setting the identifier of ${image}`, image));
  }

  /** MergeVirtualDisk V2 on a V2 handle: MergeSourceDepth 1 (the child), MergeTargetDepth depth + 1, flags NONE. */
  async merge(child: string, depth: number): Promise<void> {
    if (!Number.isInteger(depth) || depth < 1) throw new WorkerError(ErrorCode.InvalidParams, `merge depth must be 1 (the parent) or more, not ${depth}`);
    await this.withOpen(child, {}, async (h, vd) => vd.check(await vd.api.MergeVirtualDisk(h, C.MERGE_VIRTUAL_DISK_FLAG_NONE,
      { Version: C.MERGE_VIRTUAL_DISK_VERSION.V2, u: { Version2: { MergeSourceDepth: 1, MergeTargetDepth: depth + 1 } } }, null), `Merging ${child}`, child));
  }

  /** CompactVirtualDisk V1, flags NONE (a full compaction; Windows reclaims file-system free space only while attached). */
  async compact(image: string): Promise<void> {
    await this.withOpen(image, {}, async (h, vd) => vd.check(await vd.api.CompactVirtualDisk(h, C.COMPACT_VIRTUAL_DISK_FLAG_NONE,
      { Version: C.COMPACT_VIRTUAL_DISK_VERSION_1, u: { Version1: { Reserved: 0 } } }, null), `Compacting ${image}`, image));
  }

  /** ResizeVirtualDisk V1 on a V2 handle ("Only V2 handles can be used to resize"), flags NONE. */
  async resize(image: string, sizeBytes: number): Promise<void> {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0 || sizeBytes % 512) throw new WorkerError(ErrorCode.InvalidParams, `the new size must be a positive multiple of 512 bytes, not ${sizeBytes}`);
    await this.withOpen(image, {}, async (h, vd) => vd.check(await vd.api.ResizeVirtualDisk(h, C.RESIZE_VIRTUAL_DISK_FLAG.NONE,
      { Version: C.RESIZE_VIRTUAL_DISK_VERSION_1, u: { Version1: { NewSize: BigInt(sizeBytes) } } }, null), `Resizing ${image}`, image));
  }

  private guid(vd: VirtDisk, h: Handle, version: number, image: string): string {
    const b = vd.query(h, version, image);
    if (!b || b.length < 16) throw new WorkerError(ErrorCode.ImageProblem, `Windows did not report the ${version === C.GET_VIRTUAL_DISK_INFO_VERSION.IDENTIFIER ? 'identifier' : 'parent identifier'} of ${image}: is it a differencing VHD/VHDX?`, { path: image });
    return guidAt(b, 0);
  }
}

function manageableKind(image: string): 'vhd' | 'vhdx' {
  const kind = kindFromPath(image);
  if (kind === 'vhd' || kind === 'vhdx') return kind;
  throw new WorkerError(ErrorCode.UnsupportedImage, `${path.win32.basename(image)}: Windows creates and changes only VHD and VHDX images (.vhd, .avhd, .vhdx, .avhdx)`, { path: image, reason: 'not-vhd' });
}
