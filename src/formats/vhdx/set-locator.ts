// Rewrites a differencing VHDX's parent locator metadata item through the log, so that a crash at any point
// leaves the old or the new locator after replay:
//   1. a log entry with the new content of every changed 4 KiB metadata sector, synced (the header does not name
//      its GUID yet: a crash here leaves a stale entry and the old locator);
//   2. a header naming the log GUID, synced (from here on a replay, ours or qemu's or Windows', writes the new one);
//   3. the sectors themselves, synced;
//   4. a header with the log GUID cleared, synced.
import * as fs from 'fs';
import { FormatError } from '../errors';
import { guidLE } from '../guid';
import { parseRegionTable, REGION_METADATA, META_PARENT_LOCATOR, KiB } from './inspect';
import { parentLocatorItem } from './writer';
import { loggedWrite, readHeaders, replayLog } from './log';
import { stepDone } from '../manage/steps';

const SECTOR = 4 * KiB;

export function setVhdxLocator(file: string, locator: Record<string, string>): void {
  const fd = fs.openSync(file, 'r+');
  try {
    replayLog(fd); // a log left by a crash is applied first, as Windows does on open
    const { current } = readHeaders(fd);
    const rt = Buffer.alloc(64 * KiB);
    fs.readSync(fd, rt, 0, rt.length, 192 * KiB);
    const regions = parseRegionTable(rt) ?? (fs.readSync(fd, rt, 0, rt.length, 256 * KiB), parseRegionTable(rt));
    const meta = regions?.find((r) => r.guid === REGION_METADATA);
    if (!meta || meta.offset % SECTOR || meta.length % SECTOR) throw new FormatError('unsupported', `${file}: no usable metadata region`);
    const old = Buffer.alloc(meta.length);
    fs.readSync(fd, old, 0, old.length, meta.offset);
    const next = withLocator(old, parentLocatorItem(locator), file);
    const writes: [number, Buffer][] = [];
    for (let s = 0; s < meta.length; s += SECTOR) {
      if (!old.subarray(s, s + SECTOR).equals(next.subarray(s, s + SECTOR))) writes.push([meta.offset + s, next.subarray(s, s + SECTOR)]);
    }
    if (!writes.length) return;
    if (writes.reduce((n, [, d]) => n + d.length, 0) + 2 * SECTOR > current.logLength) throw new FormatError('unsupported', `${file}: the log is too small for this change`);
    loggedWrite(fd, writes, (n) => stepDone('set-parent', n));
  } finally {
    fs.closeSync(fd);
  }
}

/** The metadata region with the parent locator item replaced: in place when it fits, else after the last item. */
function withLocator(region: Buffer, item: Buffer, file: string): Buffer {
  const b = Buffer.from(region);
  if (b.toString('latin1', 0, 8) !== 'metadata') throw new FormatError('unsupported', `${file}: no metadata table`);
  const count = b.readUInt16LE(10);
  const entries = Array.from({ length: count }, (_, i) => 32 + i * 32);
  const at = entries.find((o) => guidLE(b, o) === META_PARENT_LOCATOR);
  if (at === undefined) throw new FormatError('unsupported', `${file} has no parent locator item: it is not a differencing disk`);
  const off = b.readUInt32LE(at + 16), len = b.readUInt32LE(at + 20);
  const others = entries.filter((o) => o !== at).map((o) => [b.readUInt32LE(o + 16), b.readUInt32LE(o + 20)]).filter(([, l]) => l > 0);
  const nextStart = Math.min(b.length, ...others.map(([o]) => o).filter((o) => o > off));
  let place = off;
  if (off + item.length > nextStart) {
    place = Math.ceil(Math.max(64 * KiB, ...others.map(([o, l]) => o + l)) / 8) * 8;
    if (place + item.length > b.length) throw new FormatError('unsupported', `${file}: no room in the metadata region for the new parent locator`);
  }
  b.fill(0, off, off + len);
  item.copy(b, place);
  b.writeUInt32LE(place, at + 16);
  b.writeUInt32LE(item.length, at + 20);
  return b;
}
