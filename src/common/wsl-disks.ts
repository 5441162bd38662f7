// Words for the WSL and Docker Desktop disks (CLI and the "Find WSL and Docker Disks" command alike).
import type { WslDisk, WslDisksResult } from './protocol';
import { formatSize } from './sizes';

/** "12.5 GiB on disk, 3.1 GiB of data (of 1 TiB)" or what is not known. */
export function wslDiskSizes(d: WslDisk): string {
  const data = d.dataBytes === null ? `data unknown${d.note ? ` (${d.note})` : ''}` : `${formatSize(d.dataBytes)} of data`;
  return `${formatSize(d.fileBytes)} on disk, ${data}${d.virtualSize ? ` (virtual size ${formatSize(d.virtualSize)})` : ''}`;
}

export function formatWslDisks(r: WslDisksResult): string {
  const lines = r.disks.map((d) => `${d.kind === 'docker' ? 'Docker' : 'WSL'}\t${d.name}\t${d.path}\n\t${wslDiskSizes(d)}${d.inUse ? `\n\tcannot be compacted now: ${d.inUseReason}` : ''}`);
  if (!r.disks.length) lines.push(r.where === 'none' ? 'Not on Windows or inside WSL: no WSL or Docker Desktop disks here.' : 'No WSL or Docker Desktop disks found.');
  return [...lines, ...r.notes].join('\n');
}
