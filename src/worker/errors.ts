// The one error type the worker throws on purpose; the server turns it into a JSON-RPC ResponseError.
import { ErrorCode, ErrorData } from '../common/protocol';

export class WorkerError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly data: ErrorData = {}) {
    super(message);
    this.name = 'WorkerError';
  }
}

/** Maps a Node/libc errno to the protocol's codes, with `what` naming the operation and object. */
export function errnoError(errno: number, what: string, extra: ErrorData = {}): WorkerError {
  const name = ERRNO_NAMES[errno] ?? `errno ${errno}`;
  switch (errno) {
    case 2: return new WorkerError(ErrorCode.NotFound, `${what}: no such file or device (${name})`, { errno, ...extra });
    case 1: case 13:
      return new WorkerError(ErrorCode.PermissionDenied,
        `${what}: permission denied (${name}). Attaching loop devices needs root or CAP_SYS_ADMIN; run VS Code's server as root, or install udisks2 for unprivileged attach.`,
        { errno, reason: 'not-root', ...extra });
    case 16: return new WorkerError(ErrorCode.Busy, `${what}: device or resource busy (${name})`, { errno, ...extra });
    case 30: return new WorkerError(ErrorCode.PermissionDenied, `${what}: the file system holding the image is read-only (${name}); attach it read-only instead`, { errno, reason: 'read-only-fs', ...extra });
    case 19: case 6:
      return new WorkerError(ErrorCode.MissingDependency, `${what}: the kernel has no loop device support (${name}); load the 'loop' module`, { errno, missing: 'loop', ...extra });
    default: return new WorkerError(ErrorCode.OsError, `${what} failed (${name})`, { errno, ...extra });
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 6: 'ENXIO', 9: 'EBADF', 12: 'ENOMEM', 13: 'EACCES', 16: 'EBUSY', 17: 'EEXIST',
  19: 'ENODEV', 20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 24: 'EMFILE', 25: 'ENOTTY', 27: 'EFBIG', 28: 'ENOSPC', 30: 'EROFS',
  36: 'ENAMETOOLONG', 95: 'EOPNOTSUPP',
};
