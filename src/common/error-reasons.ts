// Every machine-readable `reason` a worker error carries (ErrorData.reason, docs/protocol.md "Errors"). The host
// decides its offers (Retry Read-Only, Retry as Administrator, Attach Parent Folder...) by these, never by the message.
import type { ProblemCode } from './problems';

/** Why the format layer could not read a file at all (FormatError.code); also a reason of NotFound/UnsupportedImage. */
export type FormatErrorCode = 'not-found' | 'not-an-image' | 'unreadable' | 'exists' | 'unsupported' | 'chain-broken'
  | 'corrupt' | 'refused-layer';

export type WorkerReason =
  // the request or the image's format
  | 'empty' | 'not-a-file' | 'iso-read-write' | 'differencing-read-write' | 'format-not-attachable-on-windows' | 'no-engine'
  | 'raw-not-attachable-on-windows' | 'not-vhd' | 'attached' | 'platform' | 'differencing-vhdx-on-linux'
  | 'search-folders-windows' | 'chain-name-clash' | 'no-filesystem' | 'no-volumes' | 'no-drive-letter'
  // privileges
  | 'not-root' | 'not-authorized' | 'permission' | 'read-only-fs' | 'needs-elevation' | 'uac-declined' | 'elevation-needs-node'
  | 'elevation-unsafe-path' | 'no-systemroot' | 'elevation-dismissed' | 'elevation-refused' | 'sudo-needs-password'
  // an elevated worker serving one user (served-user.ts)
  | 'user-access' | 'access-check-failed' | 'not-yours'
  // in use, busy
  | 'in-use' | 'mounted' | 'mount-busy' | 'locked'
  // engines, mounts, tools
  | 'qemu-open' | 'vhdimount-open' | 'fuse-server-open' | 'export-size' | 'fuse-unmount' | 'mount-failed' | 'udisks-failed'
  // Windows (win32-errors.ts)
  | 'not-found' | 'not-supported' | 'invalid-parameter' | 'virtdisk-not-implemented' | 'virtdisk-missing' | 'virtdisk-error'
  | 'insufficient-buffer' | 'compressed' | 'loopback-share' | 'cancelled' | 'file-corrupt' | 'encrypted' | 'win32' | 'token-layout' | 'needs-windows-8'
  // browsing (worker/browse) and the block layer
  | 'no-file-system' | 'not-a-directory' | 'not-in-image' | 'destination' | 'file-system' | 'differencing-backing' | 'layer-format'
  | 'timeout' | 'browse-timeout' | 'browse-stalled' | 'browse-memory' | 'browse-crashed' | 'browse-block-read' | 'browse-cancelled'
  | 'link-target-unknown'
  // image management and attach checks
  | 'parent-in-use' | 'too-small'
  // the host's supervision (never sent by a worker)
  | 'restart-budget';

/** A VirtDisk FACILITY_VIRTUALIZATION error by its name, lowercased (error_vhd_drive_footer_missing, ...). */
export type VirtDiskErrorReason = `error_${string}`;

/** The first blocking problem's code, for ImageProblem errors. */
export type ErrorReason = WorkerReason | FormatErrorCode | ProblemCode | VirtDiskErrorReason;
