// The user's settings as the worker last received them (vdisk/initialize, vdisk/configure); engines and mounts read
// them here. Each message carries the whole set: a setting left out (cleared by the user) returns to its default.
import * as path from 'path';
import type { WorkerSettings } from '../common/protocol';
import { ErrorCode } from '../common/protocol';
import { WorkerError } from './errors';

type Current = Required<Pick<WorkerSettings, 'qemuStorageDaemon' | 'vhdimount'>> & WorkerSettings;

/** Defaults: the environment (tests, the CLI), else the program name looked up on PATH and the usual folders. */
const defaults = (): Current => ({
  qemuStorageDaemon: process.env.VDISK_QEMU_STORAGE_DAEMON || 'qemu-storage-daemon',
  vhdimount: process.env.VDISK_VHDIMOUNT || 'vhdimount',
  mountRoot: process.env.VDISK_MOUNT_ROOT ? path.resolve(process.env.VDISK_MOUNT_ROOT) : undefined,
});

let current: Current = defaults();

export function settings(): Readonly<Current> { return current; }

export function applySettings(s: WorkerSettings | undefined): void {
  if (!s) return;
  const next = defaults();
  for (const key of ['qemuStorageDaemon', 'vhdimount', 'mountRoot'] as const) {
    const v = s[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw new WorkerError(ErrorCode.InvalidParams, `setting ${key} must be a string`);
    if (key === 'mountRoot' && !path.isAbsolute(v)) throw new WorkerError(ErrorCode.InvalidParams, `vdisk.mountRoot must be an absolute path, not ${v}`);
    if (key !== 'mountRoot' && v.includes('/') && !path.isAbsolute(v)) {
      throw new WorkerError(ErrorCode.InvalidParams, `vdisk.paths.${key} must be a program name or an absolute path, not ${v}`);
    }
    next[key] = key === 'mountRoot' ? path.resolve(v) : v;
  }
  current = next;
}
