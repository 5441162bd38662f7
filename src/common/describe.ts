// Human-readable descriptions shared by the CLI, the tree and the reports.
import type { AttachedDisk } from './protocol';
import type { ChainLink, ImageInfo } from './image';

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0; let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '')} ${units[i]}`;
}

/** "read-only · session" and the like. */
export function diskBadges(d: Pick<AttachedDisk, 'readOnly' | 'lifetime' | 'engine' | 'ours'>): string[] {
  const out = [d.readOnly ? 'read-only' : 'read-write', d.lifetime];
  if (d.engine !== 'loop' && d.engine !== 'virtdisk') out.push(d.engine);
  if (!d.ours) out.push('other tool');
  return out;
}

/** The text report of an image, one `key: value` per line (the `vdisk-report` language). */
export function imageReport(info: ImageInfo, attached?: readonly AttachedDisk[]): string {
  const d = (info.details ?? {}) as Record<string, unknown>;
  const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);
  const lines = [
    `Image: ${info.path}`,
    `Format: ${info.format}${info.subtype ? ` (${info.subtype})` : ''}`,
    `Virtual size: ${formatBytes(info.virtualSize)} (${info.virtualSize} bytes)`,
    `File size: ${formatBytes(info.fileSize)} (${info.fileSize} bytes)`,
  ];
  if (info.blockSize) lines.push(`Block size: ${formatBytes(info.blockSize)}`);
  lines.push(`Sector size: ${info.logicalSectorSize} logical, ${info.physicalSectorSize} physical`);
  if (info.id) lines.push(`Id: ${info.id}`);
  if (info.virtualDiskId) lines.push(`Virtual disk id: ${info.virtualDiskId}`);
  const creator = [info.creator, str(d.creatorVersion), str(d.creatorHost) ? `(${str(d.creatorHost)})` : null].filter(Boolean).join(' ');
  if (creator) lines.push(`Creator: ${creator}`);
  if (str(d.timestamp)) lines.push(`Created: ${str(d.timestamp)!.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')}`);
  if (attached) {
    const mine = attached.filter((a) => a.image === info.path);
    lines.push(mine.length ? `Attached: ${mine.map((a) => `${a.device} (${a.readOnly ? 'read-only' : 'read-write'}, ${a.lifetime})`).join(', ')}` : 'Attached: no');
    for (const a of attached.filter((x) => x.image && x.image !== info.path && x.chain?.slice(1).some((l) => l.path === info.path))) {
      lines.push(`In use: as the parent of ${a.image} (attached as ${a.device})`);
    }
  }
  if (info.needsLogReplay) lines.push('Log: needs replay');
  if (info.parent) {
    lines.push(`Parent: ${info.parent.resolvedPath ?? '(not found)'}`);
    if (info.parent.name) lines.push(`  Name: ${info.parent.name}`);
    if (info.parent.id) lines.push(`  Id: ${info.parent.id}`);
    for (const [k, v] of Object.entries(info.parent.locators)) if (v) lines.push(`  Locator ${k}: ${v}`);
  }
  if (info.chain.length > 1) {
    lines.push('Chain:');
    info.chain.forEach((c, i) => lines.push(`  ${i}: ${c.path} (${layerLabel(c)}${c.format}${c.subtype ? ` ${c.subtype}` : ''}${c.id ? `, ${c.id}` : ''})`));
  }
  lines.push(info.problems.length ? 'Problems:' : 'Problems: none');
  for (const p of info.problems) lines.push(`  ${p.code}: ${p.message}`);
  return lines.join('\n');
}

/** "extent 2, level 1, " / "backing file, level 2, ": how a chain link is pulled in (empty for the image itself). */
export function layerLabel(c: ChainLink): string {
  if (!c.role || c.role === 'image') return '';
  const what = c.role === 'extent' ? `extent ${(c.extent?.index ?? 0) + 1}` : c.role === 'data-file' ? 'data file' : c.role === 'backing' ? 'backing file' : 'parent';
  return `${what}${c.level ? `, level ${c.level}` : ''}, `;
}
