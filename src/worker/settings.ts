// The user's settings as the worker last received them (vdisk/initialize, vdisk/configure); engines read them here.
import * as path from 'path';
import type { WorkerSettings } from '../common/protocol';
import { ErrorCode } from '../common/protocol';
import { WorkerError } from './errors';

const current: Required<Pick<WorkerSettings, 'qemuStorageDaemon' | 'vhdimount'>> & WorkerSettings = {
  qemuStorageDaemon: process.env.VDISK_QEMU_STORAGE_DAEMON || 'qemu-storage-daemon',
  vhdimount: process.env.VDISK_VHDIMOUNT || 'vhdimount',
  mountRoot: process.env.VDISK_MOUNT_ROOT || undefined,
};

export function settings(): Readonly<typeof current> { return current; }

export function applySettings(s: WorkerSettings | undefined): void {
  if (!s) return;
  for (const key of ['qemuStorageDaemon', 'vhdimount', 'mountRoot'] as const) {
    const v = s[key];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string') throw new WorkerError(ErrorCode.InvalidParams, `setting ${key} must be a string`);
    if (key === 'mountRoot' && !path.isAbsolute(v)) throw new WorkerError(ErrorCode.InvalidParams, `vdisk.mountRoot must be an absolute path, not ${v}`);
    current[key] = v;
  }
}
