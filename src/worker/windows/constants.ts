// virtdisk.h / winbase.h / winioctl.h constants the Windows backend uses (values from the Windows SDK,
// see docs/windows.md). Plain numbers: no koffi here, so Linux unit tests can import this file.

export const VIRTUAL_STORAGE_TYPE_DEVICE = { UNKNOWN: 0, ISO: 1, VHD: 2, VHDX: 3, VHDSET: 4 } as const;
export const VENDOR_MICROSOFT = { Data1: 0xEC984AEC, Data2: 0xA0F9, Data3: 0x47E9, Data4: [0x90, 0x1F, 0x71, 0x41, 0x5A, 0x66, 0x34, 0x5B] };
export const VENDOR_UNKNOWN = { Data1: 0, Data2: 0, Data3: 0, Data4: [0, 0, 0, 0, 0, 0, 0, 0] };

export const VIRTUAL_DISK_ACCESS = {
  NONE: 0, ATTACH_RO: 0x10000, ATTACH_RW: 0x20000, DETACH: 0x40000, GET_INFO: 0x80000, CREATE: 0x100000,
  METAOPS: 0x200000, READ: 0xD0000, ALL: 0x3F0000, WRITABLE: 0x320000,
} as const;

export const OPEN_VIRTUAL_DISK_FLAG = { NONE: 0, NO_PARENTS: 1, BLANK_FILE: 2 } as const;
export const OPEN_VIRTUAL_DISK_VERSION = { V1: 1, V2: 2, V3: 3 } as const;
export const OPEN_VIRTUAL_DISK_RW_DEPTH_DEFAULT = 1;

export const ATTACH_VIRTUAL_DISK_FLAG = {
  NONE: 0, READ_ONLY: 1, NO_DRIVE_LETTER: 2, PERMANENT_LIFETIME: 4, NO_LOCAL_HOST: 8,
} as const;
export const ATTACH_VIRTUAL_DISK_VERSION = { V1: 1, V2: 2 } as const;
export const DETACH_VIRTUAL_DISK_FLAG_NONE = 0;
/** RWDepth 0: no store of the chain is opened read/write (the detach open of a disk attached read-only). */
export const OPEN_VIRTUAL_DISK_RW_DEPTH_NONE = 0;

// Image management (manage.ts)
export const CREATE_VIRTUAL_DISK_VERSION = { V1: 1, V2: 2 } as const;
export const CREATE_VIRTUAL_DISK_FLAG = { NONE: 0, FULL_PHYSICAL_ALLOCATION: 1 } as const;
export const SET_VIRTUAL_DISK_INFO = { PARENT_PATH: 1, IDENTIFIER: 2, PARENT_PATH_WITH_DEPTH: 3, PHYSICAL_SECTOR_SIZE: 4, VIRTUAL_DISK_ID: 5 } as const;
export const MERGE_VIRTUAL_DISK_VERSION = { V1: 1, V2: 2 } as const;
export const MERGE_VIRTUAL_DISK_FLAG_NONE = 0;
export const COMPACT_VIRTUAL_DISK_VERSION_1 = 1;
export const COMPACT_VIRTUAL_DISK_FLAG_NONE = 0;
export const RESIZE_VIRTUAL_DISK_VERSION_1 = 1;
export const RESIZE_VIRTUAL_DISK_FLAG = { NONE: 0, ALLOW_UNSAFE_VIRTUAL_SIZE: 1, RESIZE_TO_SMALLEST_SAFE_VIRTUAL_SIZE: 2 } as const;

export const GET_STORAGE_DEPENDENCY_FLAG = { NONE: 0, HOST_VOLUMES: 1, DISK_HANDLE: 2 } as const;
export const STORAGE_DEPENDENCY_INFO_VERSION_2 = 2;

export const DEPENDENT_DISK_FLAG = {
  MULT_BACKING_FILES: 0x1, FULLY_ALLOCATED: 0x2, READ_ONLY: 0x4, REMOTE: 0x8, SYSTEM_VOLUME: 0x10,
  SYSTEM_VOLUME_PARENT: 0x20, REMOVABLE: 0x40, NO_DRIVE_LETTER: 0x80, PARENT: 0x100, NO_HOST_DISK: 0x200,
  PERMANENT_LIFETIME: 0x400,
} as const;

export const GET_VIRTUAL_DISK_INFO_VERSION = {
  SIZE: 1, IDENTIFIER: 2, PARENT_LOCATION: 3, PARENT_IDENTIFIER: 4, PARENT_TIMESTAMP: 5, VIRTUAL_STORAGE_TYPE: 6,
  PROVIDER_SUBTYPE: 7, IS_4K_ALIGNED: 8, PHYSICAL_DISK: 9, VHD_PHYSICAL_SECTOR_SIZE: 10,
  SMALLEST_SAFE_VIRTUAL_SIZE: 11, FRAGMENTATION: 12, IS_LOADED: 13, VIRTUAL_DISK_ID: 14,
} as const;

// kernel32
export const GENERIC_READ = 0x80000000;
export const FILE_READ_ATTRIBUTES = 0x80;
export const FILE_SHARE_DELETE = 4;
export const TOKEN_QUERY = 8;
/** TOKEN_INFORMATION_CLASS TokenUser */
export const TOKEN_USER_CLASS = 1;
// winnt.h file rights for the attached disk's security descriptor (virtdisk.ts attachSddl)
export const FILE_GENERIC_READ = 0x120089;
export const FILE_GENERIC_WRITE = 0x120116;
export const FILE_GENERIC_EXECUTE = 0x1200A0;
export const FILE_WRITE_ATTRIBUTES = 0x100;
export const FILE_SHARE_READ = 1;
export const FILE_SHARE_WRITE = 2;
export const OPEN_EXISTING = 3;
export const FILE_FLAG_BACKUP_SEMANTICS = 0x02000000;
export const FILE_ATTRIBUTE_NORMAL = 0x80;
export const FILE_READ_ONLY_VOLUME = 0x00080000;
export const FORMAT_MESSAGE_FROM_SYSTEM = 0x1000;
export const FORMAT_MESSAGE_FROM_HMODULE = 0x800;
export const FORMAT_MESSAGE_IGNORE_INSERTS = 0x200;
export const SDDL_REVISION_1 = 1;
export const MAX_PATH = 260;

// winioctl.h: CTL_CODE(device, function, METHOD_BUFFERED, FILE_ANY_ACCESS)
export const IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS = 0x00560000;
export const IOCTL_STORAGE_GET_DEVICE_NUMBER = 0x002D1080;
export const FILE_DEVICE_DISK = 7;
export const FILE_DEVICE_CD_ROM = 2;
export const FILE_DEVICE_DVD = 0x33;

/** Win32 error codes the backend tests for by value. */
export const ERROR = {
  SUCCESS: 0, FILE_NOT_FOUND: 2, PATH_NOT_FOUND: 3, ACCESS_DENIED: 5, INVALID_HANDLE: 6, NOT_READY: 21,
  SHARING_VIOLATION: 32, FILE_EXISTS: 80, NOT_SUPPORTED: 50, INVALID_PARAMETER: 87, CALL_NOT_IMPLEMENTED: 120,
  INSUFFICIENT_BUFFER: 122, MORE_DATA: 234, NO_MORE_FILES: 18, UNSUPPORTED_COMPRESSION: 618,
  FILE_SYSTEM_LIMITATION: 665, PRIVILEGE_NOT_HELD: 1314, FILE_CORRUPT: 1392, CANCELLED: 1223,
  FILE_ENCRYPTED: 6002, VIRTDISK_NOT_VIRTUAL_DISK: 0xC03A0015, VIRTDISK_PROVIDER_NOT_FOUND: 0xC03A0014,
} as const;

// shellapi.h / winuser.h, for ShellExecuteExW "runas"
export const SEE_MASK_NOCLOSEPROCESS = 0x40;
export const SEE_MASK_NOASYNC = 0x100;
export const SEE_MASK_FLAG_NO_UI = 0x400;
export const SW_HIDE = 0;
