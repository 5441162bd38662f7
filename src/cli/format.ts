import type { AttachedDisk } from '../common/protocol';
import { diskBadges, formatBytes, imageReport } from '../common/describe';

export function formatDisk(d: AttachedDisk): string {
  return [...diskBadges(d), ...(d.sizeBytes ? [formatBytes(d.sizeBytes)] : [])].join(', ');
}
export const formatImage = imageReport;
export { formatWslDisks } from '../common/wsl-disks';
