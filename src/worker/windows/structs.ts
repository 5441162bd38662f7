// koffi definitions of the virtdisk.h / winioctl.h structs the Windows backend passes to the OS.
// Layouts are the Windows SDK's (not mingw-w64's, whose ATTACH/OPEN parameter unions are too short),
// written with fixed-width types only so the same definitions give the x64 and arm64 (both LLP64) layout
// and can be loaded on Linux by the ABI test (test/unit/windows/abi.test.ts compares them with mingw-w64).
import koffi from 'koffi';

export const GUID = koffi.struct('VD_GUID', {
  Data1: 'uint32_t', Data2: 'uint16_t', Data3: 'uint16_t', Data4: koffi.array('uint8_t', 8),
});

export const VIRTUAL_STORAGE_TYPE = koffi.struct('VIRTUAL_STORAGE_TYPE', { DeviceId: 'uint32_t', VendorId: GUID });

// BOOL is a 32-bit int on Windows.
export const OPEN_VIRTUAL_DISK_PARAMETERS = koffi.struct('OPEN_VIRTUAL_DISK_PARAMETERS', {
  Version: 'int32_t',
  u: koffi.union('OPEN_VIRTUAL_DISK_PARAMETERS_U', {
    Version1: koffi.struct({ RWDepth: 'uint32_t' }),
    Version2: koffi.struct({ GetInfoOnly: 'int32_t', ReadOnly: 'int32_t', ResiliencyGuid: GUID }),
    Version3: koffi.struct({ GetInfoOnly: 'int32_t', ReadOnly: 'int32_t', ResiliencyGuid: GUID, SnapshotId: GUID }),
  }),
});

// The SDK's Version2 member (two ULONGLONGs) makes the union 8-aligned: Version1.Reserved sits at 8, size 24.
export const ATTACH_VIRTUAL_DISK_PARAMETERS = koffi.struct('ATTACH_VIRTUAL_DISK_PARAMETERS', {
  Version: 'int32_t',
  u: koffi.union('ATTACH_VIRTUAL_DISK_PARAMETERS_U', {
    Version1: koffi.struct({ Reserved: 'uint32_t' }),
    Version2: koffi.struct({ RestrictedOffset: 'uint64_t', RestrictedLength: 'uint64_t' }),
  }),
});

export const STORAGE_DEPENDENCY_INFO_TYPE_1 = koffi.struct('STORAGE_DEPENDENCY_INFO_TYPE_1', {
  DependencyTypeFlags: 'uint32_t', ProviderSpecificFlags: 'uint32_t', VirtualStorageType: VIRTUAL_STORAGE_TYPE,
});

// The four strings point into the caller's buffer (see deps.ts: decode before the buffer is released).
export const STORAGE_DEPENDENCY_INFO_TYPE_2 = koffi.struct('STORAGE_DEPENDENCY_INFO_TYPE_2', {
  DependencyTypeFlags: 'uint32_t',
  ProviderSpecificFlags: 'uint32_t',
  VirtualStorageType: VIRTUAL_STORAGE_TYPE,
  AncestorLevel: 'uint32_t',
  DependencyDeviceName: 'char16_t *',
  HostVolumeName: 'char16_t *',
  DependentVolumeName: 'char16_t *',
  DependentVolumeRelativePath: 'char16_t *',
});

/** STORAGE_DEPENDENCY_INFO with one TYPE_2 entry (the C declaration's ANYSIZE_ARRAY); more entries follow at 8 + 64n. */
export const STORAGE_DEPENDENCY_INFO = koffi.struct('STORAGE_DEPENDENCY_INFO', {
  Version: 'int32_t',
  NumberEntries: 'uint32_t',
  u: koffi.union('STORAGE_DEPENDENCY_INFO_U', {
    Version1Entries: koffi.array(STORAGE_DEPENDENCY_INFO_TYPE_1, 1),
    Version2Entries: koffi.array(STORAGE_DEPENDENCY_INFO_TYPE_2, 1),
  }),
});

export const GET_VIRTUAL_DISK_INFO = koffi.struct('GET_VIRTUAL_DISK_INFO', {
  Version: 'int32_t',
  u: koffi.union('GET_VIRTUAL_DISK_INFO_U', {
    Size: koffi.struct({ VirtualSize: 'uint64_t', PhysicalSize: 'uint64_t', BlockSize: 'uint32_t', SectorSize: 'uint32_t' }),
    Identifier: GUID,
    ParentLocation: koffi.struct({ ParentResolved: 'int32_t', ParentLocationBuffer: koffi.array('char16_t', 1) }),
    ParentIdentifier: GUID,
    ParentTimestamp: 'uint32_t',
    VirtualStorageType: VIRTUAL_STORAGE_TYPE,
    ProviderSubtype: 'uint32_t',
    Is4kAligned: 'int32_t',
    IsLoaded: 'int32_t',
    PhysicalDisk: koffi.struct({ LogicalSectorSize: 'uint32_t', PhysicalSectorSize: 'uint32_t', IsRemote: 'int32_t' }),
    VhdPhysicalSectorSize: 'uint32_t',
    SmallestSafeVirtualSize: 'uint64_t',
    FragmentationPercentage: 'uint32_t',
    VirtualDiskId: GUID,
    ChangeTrackingState: koffi.struct({ Enabled: 'int32_t', NewerChanges: 'int32_t', MostRecentId: koffi.array('char16_t', 1) }),
  }),
});

// Image management (manage.ts). CREATE is the SDK's layout: mingw-w64's Version2 lacks PhysicalSectorSizeInBytes
// (its ParentPath sits 8 bytes early), and the SDK's Version3/Version4 make the union 176 bytes.
const CREATE_V2_FIELDS = {
  UniqueId: GUID, MaximumSize: 'uint64_t', BlockSizeInBytes: 'uint32_t', SectorSizeInBytes: 'uint32_t',
  PhysicalSectorSizeInBytes: 'uint32_t', ParentPath: 'const char16_t *', SourcePath: 'const char16_t *',
  OpenFlags: 'uint32_t', ParentVirtualStorageType: VIRTUAL_STORAGE_TYPE, SourceVirtualStorageType: VIRTUAL_STORAGE_TYPE,
  ResiliencyGuid: GUID,
};
const CREATE_V3_FIELDS = { ...CREATE_V2_FIELDS, SourceLimitPath: 'const char16_t *', BackingStorageType: VIRTUAL_STORAGE_TYPE };
export const CREATE_VIRTUAL_DISK_PARAMETERS = koffi.struct('CREATE_VIRTUAL_DISK_PARAMETERS', {
  Version: 'int32_t',
  u: koffi.union('CREATE_VIRTUAL_DISK_PARAMETERS_U', {
    Version1: koffi.struct({ UniqueId: GUID, MaximumSize: 'uint64_t', BlockSizeInBytes: 'uint32_t', SectorSizeInBytes: 'uint32_t',
      ParentPath: 'const char16_t *', SourcePath: 'const char16_t *' }),
    Version2: koffi.struct(CREATE_V2_FIELDS),
    Version3: koffi.struct(CREATE_V3_FIELDS),
    Version4: koffi.struct({ ...CREATE_V3_FIELDS, PmemAddressAbstractionType: GUID, DataAlignment: 'uint64_t' }),
  }),
});

export const SET_VIRTUAL_DISK_INFO = koffi.struct('SET_VIRTUAL_DISK_INFO', {
  Version: 'int32_t',
  u: koffi.union('SET_VIRTUAL_DISK_INFO_U', {
    ParentFilePath: 'const char16_t *',
    UniqueIdentifier: GUID,
    ParentPathWithDepthInfo: koffi.struct({ ChildDepth: 'uint32_t', ParentFilePath: 'const char16_t *' }),
    VhdPhysicalSectorSize: 'uint32_t',
    VirtualDiskId: GUID,
    ChangeTrackingEnabled: 'int32_t',
    ParentLocator: koffi.struct({ LinkageId: GUID, ParentFilePath: 'const char16_t *' }),
  }),
});

export const MERGE_VIRTUAL_DISK_PARAMETERS = koffi.struct('MERGE_VIRTUAL_DISK_PARAMETERS', {
  Version: 'int32_t',
  u: koffi.union('MERGE_VIRTUAL_DISK_PARAMETERS_U', {
    Version1: koffi.struct({ MergeDepth: 'uint32_t' }),
    Version2: koffi.struct({ MergeSourceDepth: 'uint32_t', MergeTargetDepth: 'uint32_t' }),
  }),
});

export const COMPACT_VIRTUAL_DISK_PARAMETERS = koffi.struct('COMPACT_VIRTUAL_DISK_PARAMETERS', {
  Version: 'int32_t',
  u: koffi.union('COMPACT_VIRTUAL_DISK_PARAMETERS_U', { Version1: koffi.struct({ Reserved: 'uint32_t' }) }),
});

export const RESIZE_VIRTUAL_DISK_PARAMETERS = koffi.struct('RESIZE_VIRTUAL_DISK_PARAMETERS', {
  Version: 'int32_t',
  u: koffi.union('RESIZE_VIRTUAL_DISK_PARAMETERS_U', { Version1: koffi.struct({ NewSize: 'uint64_t' }) }),
});

// winioctl.h: IOCTL_VOLUME_GET_VOLUME_DISK_EXTENTS answer (one extent declared; more follow at 8 + 24n).
export const DISK_EXTENT = koffi.struct('DISK_EXTENT', {
  DiskNumber: 'uint32_t', StartingOffset: 'int64_t', ExtentLength: 'int64_t',
});
export const VOLUME_DISK_EXTENTS = koffi.struct('VOLUME_DISK_EXTENTS', {
  NumberOfDiskExtents: 'uint32_t', Extents: koffi.array(DISK_EXTENT, 1),
});
// IOCTL_STORAGE_GET_DEVICE_NUMBER answer.
export const STORAGE_DEVICE_NUMBER = koffi.struct('STORAGE_DEVICE_NUMBER', {
  DeviceType: 'uint32_t', DeviceNumber: 'uint32_t', PartitionNumber: 'uint32_t',
});

// shellapi.h: ShellExecuteExW's argument, for "Retry as Administrator" (elevate.ts). Pointers and handles are 8 bytes.
export const SHELLEXECUTEINFOW = koffi.struct('SHELLEXECUTEINFOW', {
  cbSize: 'uint32_t',
  fMask: 'uint32_t',
  hwnd: 'void *',
  lpVerb: 'const char16_t *',
  lpFile: 'const char16_t *',
  lpParameters: 'const char16_t *',
  lpDirectory: 'const char16_t *',
  nShow: 'int32_t',
  hInstApp: 'void *',
  lpIDList: 'void *',
  lpClass: 'const char16_t *',
  hkeyClass: 'void *',
  dwHotKey: 'uint32_t',
  u: koffi.union('SHELLEXECUTEINFOW_U', { hIcon: 'void *', hMonitor: 'void *' }),
  hProcess: 'void *',
});

/** Every bound struct by its C name, for the ABI test. */
export const STRUCTS = {
  GUID, VIRTUAL_STORAGE_TYPE, OPEN_VIRTUAL_DISK_PARAMETERS, ATTACH_VIRTUAL_DISK_PARAMETERS,
  STORAGE_DEPENDENCY_INFO_TYPE_1, STORAGE_DEPENDENCY_INFO_TYPE_2, STORAGE_DEPENDENCY_INFO, GET_VIRTUAL_DISK_INFO,
  DISK_EXTENT, VOLUME_DISK_EXTENTS, STORAGE_DEVICE_NUMBER, SHELLEXECUTEINFOW,
  CREATE_VIRTUAL_DISK_PARAMETERS, SET_VIRTUAL_DISK_INFO, MERGE_VIRTUAL_DISK_PARAMETERS, COMPACT_VIRTUAL_DISK_PARAMETERS,
  RESIZE_VIRTUAL_DISK_PARAMETERS,
} as const;
