/* Included by the C file test/unit/windows/abi.test.ts generates. The Windows SDK members mingw-w64's
   virtdisk.h lacks (checked against the SDK's um/virtdisk.h): OPEN_VIRTUAL_DISK_PARAMETERS.Version3,
   ATTACH_VIRTUAL_DISK_PARAMETERS.Version2 and CREATE_VIRTUAL_DISK_PARAMETERS (see below). Without the latter the ATTACH union is 4-aligned (size 8, Reserved @4);
   Windows' own DLL reads the SDK layout (size 24, Reserved @8). */
#include <windows.h>
#include <winioctl.h>
#include <sddl.h>
#include <shellapi.h>
#include <virtdisk.h>
#include <stddef.h>

typedef struct {
  OPEN_VIRTUAL_DISK_VERSION Version;
  union {
    struct { ULONG RWDepth; } Version1;
    struct { BOOL GetInfoOnly; BOOL ReadOnly; GUID ResiliencyGuid; } Version2;
    struct { BOOL GetInfoOnly; BOOL ReadOnly; GUID ResiliencyGuid; GUID SnapshotId; } Version3;
  };
} SDK_OPEN_VIRTUAL_DISK_PARAMETERS;

typedef struct {
  ATTACH_VIRTUAL_DISK_VERSION Version;
  union {
    struct { ULONG Reserved; } Version1;
    struct { ULONGLONG RestrictedOffset; ULONGLONG RestrictedLength; } Version2;
  };
} SDK_ATTACH_VIRTUAL_DISK_PARAMETERS;

/* mingw-w64's CREATE Version2 lacks PhysicalSectorSizeInBytes, and it has no Version3/Version4 (SDK um/virtdisk.h). */
typedef struct {
  CREATE_VIRTUAL_DISK_VERSION Version;
  union {
    struct { GUID UniqueId; ULONGLONG MaximumSize; ULONG BlockSizeInBytes; ULONG SectorSizeInBytes; PCWSTR ParentPath; PCWSTR SourcePath; } Version1;
    struct { GUID UniqueId; ULONGLONG MaximumSize; ULONG BlockSizeInBytes; ULONG SectorSizeInBytes; ULONG PhysicalSectorSizeInBytes;
             PCWSTR ParentPath; PCWSTR SourcePath; OPEN_VIRTUAL_DISK_FLAG OpenFlags; VIRTUAL_STORAGE_TYPE ParentVirtualStorageType;
             VIRTUAL_STORAGE_TYPE SourceVirtualStorageType; GUID ResiliencyGuid; } Version2;
    struct { GUID UniqueId; ULONGLONG MaximumSize; ULONG BlockSizeInBytes; ULONG SectorSizeInBytes; ULONG PhysicalSectorSizeInBytes;
             PCWSTR ParentPath; PCWSTR SourcePath; OPEN_VIRTUAL_DISK_FLAG OpenFlags; VIRTUAL_STORAGE_TYPE ParentVirtualStorageType;
             VIRTUAL_STORAGE_TYPE SourceVirtualStorageType; GUID ResiliencyGuid; PCWSTR SourceLimitPath;
             VIRTUAL_STORAGE_TYPE BackingStorageType; } Version3;
    struct { GUID UniqueId; ULONGLONG MaximumSize; ULONG BlockSizeInBytes; ULONG SectorSizeInBytes; ULONG PhysicalSectorSizeInBytes;
             PCWSTR ParentPath; PCWSTR SourcePath; OPEN_VIRTUAL_DISK_FLAG OpenFlags; VIRTUAL_STORAGE_TYPE ParentVirtualStorageType;
             VIRTUAL_STORAGE_TYPE SourceVirtualStorageType; GUID ResiliencyGuid; PCWSTR SourceLimitPath;
             VIRTUAL_STORAGE_TYPE BackingStorageType; GUID PmemAddressAbstractionType; ULONGLONG DataAlignment; } Version4;
  };
} SDK_CREATE_VIRTUAL_DISK_PARAMETERS;

/* Exported by VirtDisk.dll (and mingw's libvirtdisk.a) but not declared in mingw's header. */
DWORD WINAPI GetAllAttachedVirtualDiskPhysicalPaths(PULONG PathsBufferSizeInBytes, PWSTR PathsBuffer);

/* Each value V becomes a common symbol of V+1 bytes (a 0-byte common is ambiguous); nm prints its size. */
#define VD_VALUE(NAME, V) __attribute__((used)) char NAME[(V) + 1];
