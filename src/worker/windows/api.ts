// Function bindings: VirtDisk.dll, kernel32.dll and advapi32.dll through koffi. Struct layouts live in
// structs.ts. Loaded lazily (only on Windows, only when the backend first needs them); every function the
// backend uses is resolved at load time, so a missing export fails at startup with its name.
import koffi from 'koffi';
import * as S from './structs';
import * as C from './constants';
import { wineStubs } from './wine-stubs';

/** An opaque Windows HANDLE (koffi External). Close it with closeHandle, in a finally. */
export type Handle = object;

export interface Api {
  OpenVirtualDisk(type: object, path: string, mask: number, flags: number, params: object, out: [Handle | null]): number;
  AttachVirtualDisk(h: Handle, sd: unknown, flags: number, providerFlags: number, params: object, overlapped: null): number;
  DetachVirtualDisk(h: Handle, flags: number, providerFlags: number): number;
  GetVirtualDiskPhysicalPath(h: Handle, size: [number], buf: Buffer): number;
  GetAllAttachedVirtualDiskPhysicalPaths(size: [number], buf: Buffer | null): number;
  GetStorageDependencyInformation(h: Handle, flags: number, size: number, buf: Buffer, used: [number]): number;
  GetVirtualDiskInformation(h: Handle, size: [number], buf: Buffer, used: [number] | null): number;
  CreateFileW(path: string, access: number, share: number, sa: null, disposition: number, flags: number, template: null): Handle;
  CloseHandle(h: Handle): number;
  DeviceIoControl(h: Handle, code: number, inBuf: Buffer | null, inSize: number, outBuf: Buffer, outSize: number, returned: [number], overlapped: null): number;
  FindFirstVolumeW(buf: Buffer, chars: number): Handle;
  FindNextVolumeW(h: Handle, buf: Buffer, chars: number): number;
  FindVolumeClose(h: Handle): number;
  GetVolumePathNamesForVolumeNameW(volume: string, buf: Buffer, chars: number, needed: [number]): number;
  GetVolumeInformationW(root: string, label: Buffer, labelChars: number, serial: null, maxComp: null, fsFlags: [number], fsName: Buffer, fsNameChars: number): number;
  GetVolumeNameForVolumeMountPointW(mountPoint: string, buf: Buffer, chars: number): number;
  SetVolumeMountPointW(mountPoint: string, volume: string): number;
  DeleteVolumeMountPointW(mountPoint: string): number;
  GetLogicalDrives(): number;
  GetLastError(): number;
  FormatMessageW(flags: number, source: unknown, id: number, lang: number, buf: Buffer, chars: number, args: null): number;
  LoadLibraryExW(name: string, file: null, flags: number): unknown;
  LocalFree(p: unknown): unknown;
  ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl: string, revision: number, out: [unknown], size: null): number;
  IsUserAnAdmin(): number;
  GetCurrentProcess(): Handle;
  OpenProcessToken(process: Handle, access: number, out: [Handle | null]): number;
  GetTokenInformation(token: Handle, cls: number, buf: Buffer | null, size: number, needed: [number]): number;
  // Image management (manage.ts). Synchronous for VirtDisk (Overlapped NULL, as the Windows samples call them) but run
  // on koffi's worker thread, so a long merge or compact does not stop the worker answering other requests.
  CreateVirtualDisk(type: object, path: string, mask: number, sd: unknown, flags: number, providerFlags: number, params: object, overlapped: null, out: [Handle | null]): Promise<number>;
  SetVirtualDiskInformation(h: Handle, info: object): number;
  MergeVirtualDisk(h: Handle, flags: number, params: object, overlapped: null): Promise<number>;
  CompactVirtualDisk(h: Handle, flags: number, params: object, overlapped: null): Promise<number>;
  ResizeVirtualDisk(h: Handle, flags: number, params: object, overlapped: null): Promise<number>;
}

/** Names of every VirtDisk.dll function bound (the Wine test checks they all resolve). */
export const VIRTDISK_FUNCTIONS = [
  'OpenVirtualDisk', 'AttachVirtualDisk', 'DetachVirtualDisk', 'GetVirtualDiskPhysicalPath',
  'GetAllAttachedVirtualDiskPhysicalPaths', 'GetStorageDependencyInformation', 'GetVirtualDiskInformation',
  'CreateVirtualDisk', 'SetVirtualDiskInformation', 'MergeVirtualDisk', 'CompactVirtualDisk', 'ResizeVirtualDisk',
] as const;

type KoffiFn = ((...args: unknown[]) => unknown) & { async(...args: unknown[]): void };
/** A koffi function called on koffi's thread pool: the promise settles with its return value. */
function onThread(fn: KoffiFn): (...args: unknown[]) => Promise<number> {
  return (...args) => new Promise((resolve, reject) => fn.async(...args, (err: unknown, rc: number) => (err ? reject(err) : resolve(rc))));
}

let api: Api | undefined;
let HANDLE_TYPE: unknown;

export function loadApi(): Api {
  if (api) return api;
  void S.STRUCTS; // the prototypes below name the struct types registered by structs.ts
  HANDLE_TYPE = koffi.pointer('VD_HANDLE', koffi.opaque('VD_HANDLE_T'));
  const vd = koffi.load('virtdisk.dll');
  const k32 = koffi.load('kernel32.dll');
  const adv = koffi.load('advapi32.dll');
  const sh = koffi.load('shell32.dll');
  const f = (lib: ReturnType<typeof koffi.load>, proto: string) => lib.func(proto) as unknown as KoffiFn;
  api = {
    OpenVirtualDisk: f(vd, 'uint32_t __stdcall OpenVirtualDisk(VIRTUAL_STORAGE_TYPE *type, const char16_t *path, uint32_t mask, uint32_t flags, OPEN_VIRTUAL_DISK_PARAMETERS *params, _Out_ VD_HANDLE *handle)'),
    AttachVirtualDisk: f(vd, 'uint32_t __stdcall AttachVirtualDisk(VD_HANDLE h, void *sd, uint32_t flags, uint32_t providerFlags, ATTACH_VIRTUAL_DISK_PARAMETERS *params, void *overlapped)'),
    DetachVirtualDisk: f(vd, 'uint32_t __stdcall DetachVirtualDisk(VD_HANDLE h, uint32_t flags, uint32_t providerFlags)'),
    GetVirtualDiskPhysicalPath: f(vd, 'uint32_t __stdcall GetVirtualDiskPhysicalPath(VD_HANDLE h, _Inout_ uint32_t *size, void *buf)'),
    GetAllAttachedVirtualDiskPhysicalPaths: f(vd, 'uint32_t __stdcall GetAllAttachedVirtualDiskPhysicalPaths(_Inout_ uint32_t *size, void *buf)'),
    GetStorageDependencyInformation: f(vd, 'uint32_t __stdcall GetStorageDependencyInformation(VD_HANDLE h, uint32_t flags, uint32_t size, void *info, _Out_ uint32_t *used)'),
    GetVirtualDiskInformation: f(vd, 'uint32_t __stdcall GetVirtualDiskInformation(VD_HANDLE h, _Inout_ uint32_t *size, void *info, _Out_ uint32_t *used)'),
    CreateFileW: f(k32, 'VD_HANDLE __stdcall CreateFileW(const char16_t *name, uint32_t access, uint32_t share, void *sa, uint32_t disposition, uint32_t flags, void *tmpl)'),
    CloseHandle: f(k32, 'int __stdcall CloseHandle(VD_HANDLE h)'),
    DeviceIoControl: f(k32, 'int __stdcall DeviceIoControl(VD_HANDLE h, uint32_t code, void *inBuf, uint32_t inSize, void *outBuf, uint32_t outSize, _Out_ uint32_t *returned, void *overlapped)'),
    FindFirstVolumeW: f(k32, 'VD_HANDLE __stdcall FindFirstVolumeW(void *buf, uint32_t chars)'),
    FindNextVolumeW: f(k32, 'int __stdcall FindNextVolumeW(VD_HANDLE h, void *buf, uint32_t chars)'),
    FindVolumeClose: f(k32, 'int __stdcall FindVolumeClose(VD_HANDLE h)'),
    GetVolumePathNamesForVolumeNameW: f(k32, 'int __stdcall GetVolumePathNamesForVolumeNameW(const char16_t *volume, void *buf, uint32_t chars, _Out_ uint32_t *needed)'),
    GetVolumeInformationW: f(k32, 'int __stdcall GetVolumeInformationW(const char16_t *root, void *label, uint32_t labelChars, void *serial, void *maxComp, _Out_ uint32_t *fsFlags, void *fsName, uint32_t fsNameChars)'),
    GetVolumeNameForVolumeMountPointW: f(k32, 'int __stdcall GetVolumeNameForVolumeMountPointW(const char16_t *mountPoint, void *buf, uint32_t chars)'),
    SetVolumeMountPointW: f(k32, 'int __stdcall SetVolumeMountPointW(const char16_t *mountPoint, const char16_t *volume)'),
    DeleteVolumeMountPointW: f(k32, 'int __stdcall DeleteVolumeMountPointW(const char16_t *mountPoint)'),
    GetLogicalDrives: f(k32, 'uint32_t __stdcall GetLogicalDrives()'),
    GetLastError: f(k32, 'uint32_t __stdcall GetLastError()'),
    FormatMessageW: f(k32, 'uint32_t __stdcall FormatMessageW(uint32_t flags, void *source, uint32_t id, uint32_t lang, void *buf, uint32_t chars, void *args)'),
    LoadLibraryExW: f(k32, 'void * __stdcall LoadLibraryExW(const char16_t *name, void *file, uint32_t flags)'),
    LocalFree: f(k32, 'void * __stdcall LocalFree(void *p)'),
    ConvertStringSecurityDescriptorToSecurityDescriptorW: f(adv, 'int __stdcall ConvertStringSecurityDescriptorToSecurityDescriptorW(const char16_t *sddl, uint32_t revision, _Out_ void **sd, void *size)'),
    IsUserAnAdmin: f(sh, 'int __stdcall IsUserAnAdmin()'),
    GetCurrentProcess: f(k32, 'VD_HANDLE __stdcall GetCurrentProcess()'),
    OpenProcessToken: f(adv, 'int __stdcall OpenProcessToken(VD_HANDLE process, uint32_t access, _Out_ VD_HANDLE *token)'),
    GetTokenInformation: f(adv, 'int __stdcall GetTokenInformation(VD_HANDLE token, int cls, void *buf, uint32_t size, _Out_ uint32_t *needed)'),
    CreateVirtualDisk: onThread(f(vd, 'uint32_t __stdcall CreateVirtualDisk(VIRTUAL_STORAGE_TYPE *type, const char16_t *path, uint32_t mask, void *sd, uint32_t flags, uint32_t providerFlags, CREATE_VIRTUAL_DISK_PARAMETERS *params, void *overlapped, _Out_ VD_HANDLE *handle)')),
    SetVirtualDiskInformation: f(vd, 'uint32_t __stdcall SetVirtualDiskInformation(VD_HANDLE h, SET_VIRTUAL_DISK_INFO *info)'),
    MergeVirtualDisk: onThread(f(vd, 'uint32_t __stdcall MergeVirtualDisk(VD_HANDLE h, uint32_t flags, MERGE_VIRTUAL_DISK_PARAMETERS *params, void *overlapped)')),
    CompactVirtualDisk: onThread(f(vd, 'uint32_t __stdcall CompactVirtualDisk(VD_HANDLE h, uint32_t flags, COMPACT_VIRTUAL_DISK_PARAMETERS *params, void *overlapped)')),
    ResizeVirtualDisk: onThread(f(vd, 'uint32_t __stdcall ResizeVirtualDisk(VD_HANDLE h, uint32_t flags, RESIZE_VIRTUAL_DISK_PARAMETERS *params, void *overlapped)')),
  } as unknown as Api;
  // a Wine stub aborts the process when called: it answers ERROR_CALL_NOT_IMPLEMENTED instead, like an unsupported call
  // VDISK_TEST_CALL_WINE_STUBS=1: a Wine test calls a stub on purpose, to prove its arguments marshal up to the call
  const stubbed = process.env.VDISK_TEST_CALL_WINE_STUBS === '1' ? [] : wineStubs('virtdisk.dll', VIRTDISK_FUNCTIONS);
  for (const name of stubbed) {
    const onPool = name === 'CreateVirtualDisk' || name === 'MergeVirtualDisk' || name === 'CompactVirtualDisk' || name === 'ResizeVirtualDisk';
    (api as unknown as Record<string, unknown>)[name] = onPool ? () => Promise.resolve(C.ERROR.CALL_NOT_IMPLEMENTED) : () => C.ERROR.CALL_NOT_IMPLEMENTED;
  }
  virtdiskStubbed = stubbed;
  return api;
}

let virtdiskStubbed: readonly string[] = [];
/** VirtDisk functions this system only stubs (Wine), bound by loadApi() to answer ERROR_CALL_NOT_IMPLEMENTED. */
export function stubbedVirtDiskFunctions(): readonly string[] { return virtdiskStubbed; }

/** INVALID_HANDLE_VALUE is (HANDLE)-1; CreateFileW/FindFirstVolumeW return it on failure. */
export function isInvalidHandle(h: Handle | null): boolean {
  if (h === null) return true;
  const a = koffi.address(h);
  return a === 0n || a === 0xFFFFFFFFFFFFFFFFn;
}

export function closeHandle(h: Handle | null, a: Api = loadApi()): void {
  if (!isInvalidHandle(h)) a.CloseHandle(h!);
}

/** Windows' own text for a code (FormatMessageW), for the log; VirtDisk's 0xC03A codes live in virtdisk.dll. */
export function formatMessage(code: number, a: Api = loadApi()): string {
  const buf = Buffer.alloc(2048);
  let n = a.FormatMessageW(C.FORMAT_MESSAGE_FROM_SYSTEM | C.FORMAT_MESSAGE_IGNORE_INSERTS, null, code >>> 0, 0, buf, 1024, null);
  if (!n) {
    const mod = a.LoadLibraryExW('virtdisk.dll', null, 0x00000002 /* LOAD_LIBRARY_AS_DATAFILE */);
    if (mod) n = a.FormatMessageW(C.FORMAT_MESSAGE_FROM_HMODULE | C.FORMAT_MESSAGE_IGNORE_INSERTS, mod, code >>> 0, 0, buf, 1024, null);
  }
  return n ? buf.toString('utf16le', 0, n * 2).trim() : `(no system text for ${code})`;
}

/** UTF-16LE, NUL-terminated, from a buffer. */
export function wstr(buf: Buffer, offset = 0): string {
  let end = offset;
  while (end + 1 < buf.length && (buf[end] | buf[end + 1]) !== 0) end += 2;
  return buf.toString('utf16le', offset, end);
}

/** A REG_MULTI_SZ-style list: strings separated by NUL, ended by an empty string. */
export function multiSz(buf: Buffer, bytes = buf.length): string[] {
  const all = buf.toString('utf16le', 0, bytes - (bytes % 2));
  const out: string[] = [];
  for (const s of all.split('\0')) { if (!s) break; out.push(s); }
  return out;
}
