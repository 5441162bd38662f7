// Which handle GetStorageDependencyInformation is asked on, and with which flags, for each kind of `deps` target
// (pure: the backend opens it with VirtDisk.openDevice, which documents the access rights per kind).
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import * as C from './constants';
import type { DeviceKind } from './virtdisk';
import { parseDevice } from './volumes';

export interface DepsHandle { path: string; kind: DeviceKind; flags: number }

/**
 * - a disk device: DISK_HANDLE (the handle is a disk, not a volume or file) | HOST_VOLUMES (the whole chain down
 *   to the volumes that host the image files);
 * - an attached image file: the same, on its disk (`deviceOf` gives it, or null when `target` is not an image);
 * - a volume GUID path, a drive letter or any path on a drive: the volume's root folder, HOST_VOLUMES.
 */
export function depsHandleFor(target: string, deviceOf: (image: string) => string | null): DepsHandle {
  const F = C.GET_STORAGE_DEPENDENCY_FLAG;
  if (parseDevice(target)) return { path: target, kind: 'disk', flags: F.DISK_HANDLE | F.HOST_VOLUMES };
  const volume = /^\\\\\?\\Volume\{[0-9a-f-]+\}\\?$/i.exec(target);
  if (volume) return { path: target.endsWith('\\') ? target : `${target}\\`, kind: 'volume', flags: F.HOST_VOLUMES };
  const device = deviceOf(target);
  if (device) return { path: device, kind: 'disk', flags: F.DISK_HANDLE | F.HOST_VOLUMES };
  if (/^[a-z]:/i.test(target)) return { path: `${target.slice(0, 2).toUpperCase()}\\`, kind: 'volume', flags: F.HOST_VOLUMES };
  throw new WorkerError(ErrorCode.InvalidParams, `deps needs a disk, an attached image, a volume or a path on a drive, not ${JSON.stringify(target)}`);
}
