// /etc/fuse.conf's user_allow_other: whether a user's FUSE export (qemu-storage-daemon, vhdimount) may be mounted
// with allow_other, which the udisks route needs (the loop driver reads the export as root; without allow_other FUSE
// refuses root's getattr and the loop device comes out 0 bytes).
import * as fs from 'fs';
import type { ImageInfo } from '../../common/image';
import { needsRoot, USER_ALLOW_OTHER_HOWTO } from '../policy';
import type { WorkerError } from '../errors';

export const FUSE_CONF = '/etc/fuse.conf';

/** True when /etc/fuse.conf has a `user_allow_other` line (fusermount's own rule: the option alone on its line). */
export function userAllowOther(file = FUSE_CONF): boolean {
  try { return /^\s*user_allow_other\s*$/m.test(fs.readFileSync(file, 'utf8')); } catch { return false; }
}

/** fusermount refused allow_other (user_allow_other is missing, or was removed since the capability report). */
export function allowOtherRefused(image: Pick<ImageInfo, 'format' | 'subtype' | 'path'>, msg: string): WorkerError {
  return needsRoot(image, `Not running as root, and fusermount refused the export's allow_other (${msg.trim().split('\n')[0]}). ${USER_ALLOW_OTHER_HOWTO}`);
}
