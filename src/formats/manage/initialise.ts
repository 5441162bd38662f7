// Initialising a new disk: a GPT (gpt-writer.ts) and one file system made by mkfs on a sparse temporary file of the
// partition's size, beside the new image. The file is unlinked as soon as it is opened and mkfs writes it through the
// inherited descriptor (`/dev/fd/3`), so no name is left behind whatever happens (cancel, failure, kill -9 of the
// worker). The image's writer then reads it through `InitialisedDisk`, which knows the file's allocated extents
// (SEEK_DATA/SEEK_HOLE, or a scan that skips zero chunks), so a 64 GiB disk costs only the few MiB mkfs wrote.
import * as cp from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { FormatError } from '../errors';
import { randomGuid } from '../guid';
import type { BlockReader } from '../block';
import { FS_INFO, InitFileSystem, InitSpec, partitionRange } from '../../common/init-spec';
import { buildGpt } from './gpt-writer';
import { checkCancel, Progress } from './output';

/** lseek(fd, offset, SEEK_DATA=3 | SEEK_HOLE=4): the next data or hole offset, or -1 past the last data (ENXIO). */
export type SeekFn = (fd: number, offset: number, whence: 3 | 4) => number;

/** The allocated [offset, length] runs of a file: by SEEK_DATA/SEEK_HOLE when given, else by reading it (zero 64 KiB chunks skipped). */
export function dataExtents(fd: number, size: number, seek?: SeekFn): [number, number][] {
  const out: [number, number][] = [];
  if (seek) {
    let at = 0;
    while (at < size) {
      const data = seek(fd, at, 3);
      if (data < 0 || data >= size) break;
      const hole = Math.min(size, seek(fd, data, 4));
      if (hole <= data) throw new Error(`SEEK_HOLE at ${data} returned ${hole}`);
      out.push([data, hole - data]);
      at = hole;
    }
    return out;
  }
  const CH = 64 * 1024;
  const buf = Buffer.alloc(CH), zero = Buffer.alloc(CH);
  for (let at = 0; at < size; at += CH) {
    const n = fs.readSync(fd, buf, 0, Math.min(CH, size - at), at);
    if (n === 0) break;
    if (buf.subarray(0, n).equals(zero.subarray(0, n))) continue;
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === at) last[1] += n; else out.push([at, n]);
  }
  return out;
}

/** The mkfs command line for a partition file (its start sector recorded where the file system keeps one). */
export function mkfsCommand(fsType: InitFileSystem, file: string, label: string | undefined, sectorSize: number, startSector: number): [string, string[]] {
  const tool = FS_INFO[fsType].tool;
  const l = (flag: string) => (label ? [flag, label] : []);
  switch (fsType) {
    // lazy init: the unwritten inode tables and journal read as zeros from a new image anyway
    case 'ext4': return [tool, ['-q', '-F', '-t', 'ext4', ...l('-L'), ...(sectorSize === 4096 ? ['-b', '4096'] : []), '-E', 'lazy_itable_init=1,lazy_journal_init=1', file]];
    case 'ntfs': return [tool, ['-F', '-Q', '-q', ...l('-L'), '-s', String(sectorSize), '-p', String(startSector), '-H', '255', '-S', '63', file]];
    case 'fat32': return [tool, ['-F', '32', ...l('-n'), '-S', String(sectorSize), '-h', String(startSector), file]];
    case 'exfat': return [tool, [...l('-L'), file]];
  }
}

/** A program on PATH or in the sbin folders a user's PATH often lacks (mkfs lives in /usr/sbin). */
function findTool(name: string): string {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin']) {
    if (!d.startsWith('/')) continue;
    try { fs.accessSync(path.join(d, name), fs.constants.X_OK); return path.join(d, name); } catch { /* next */ }
  }
  return name;
}

/** Runs mkfs with `fd` as its descriptor 3 (the path it is given is `/dev/fd/3`). */
function runTool(cmd: string, args: string[], fd: number, progress?: Progress): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = cp.spawn(findTool(cmd), args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < (1 << 20)) stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
    const poll = setInterval(() => { if (progress?.cancelled?.()) child.kill('SIGKILL'); }, 100);
    const done = (why: string | null) => {
      clearInterval(poll); clearTimeout(timer);
      if (why === null) resolve(); else reject(new FormatError('unsupported', `${cmd} failed: ${why}`));
    };
    child.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ENOENT' ? 'it is not installed' : err.message));
    child.on('close', (code, signal) => done(code === 0 ? null
      : stderr.trim().split('\n').slice(-3).join(' ') || (signal ? `killed by ${signal}` : `exit code ${code}`)));
  });
}

/** A new disk's content: GPT pieces plus the partition file's extents; `hasData` lets writers skip empty blocks unread. */
export class InitialisedDisk implements BlockReader {
  private constructor(readonly size: number, readonly sectorSize: number, private pieces: [number, Buffer][],
    private fd: number | null, private partOffset: number, private extents: [number, number][]) {}

  static async make(size: number, sectorSize: number, init: InitSpec, tmpDir: string, opts: { seek?: SeekFn; progress?: Progress }):
    Promise<{ disk: InitialisedDisk; partition: { offset: number; size: number } | null }> {
    if (!init.fileSystem) return { disk: new InitialisedDisk(size, sectorSize, buildGpt({ diskSize: size, sectorSize, diskGuid: randomGuid() }), null, 0, []), partition: null };
    const part = partitionRange(size, sectorSize);
    const info = FS_INFO[init.fileSystem];
    const tmp = path.join(tmpDir, `.vdisk-mkfs-${crypto.randomBytes(4).toString('hex')}.tmp`);
    const fd = fs.openSync(tmp, 'wx+', 0o600);
    let extents: [number, number][];
    try {
      fs.unlinkSync(tmp);
      fs.ftruncateSync(fd, part.size);
      checkCancel(opts.progress);
      const [cmd, args] = mkfsCommand(init.fileSystem, '/dev/fd/3', init.label, sectorSize, part.offset / sectorSize);
      await runTool(cmd, args, fd, opts.progress);
      checkCancel(opts.progress);
      extents = dataExtents(fd, part.size, opts.seek);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    const gpt = buildGpt({ diskSize: size, sectorSize, diskGuid: randomGuid(),
      partition: { ...part, typeGuid: info.typeGuid, guid: randomGuid(), name: init.label || info.typeName } });
    return { disk: new InitialisedDisk(size, sectorSize, gpt, fd, part.offset, extents), partition: part };
  }

  /** Bytes of the partition file that mkfs wrote (its allocated extents). */
  get fileSystemBytes(): number { return this.extents.reduce((n, [, l]) => n + l, 0); }

  hasData(offset: number, length: number): boolean {
    const end = offset + length;
    if (this.pieces.some(([o, b]) => o < end && o + b.length > offset)) return true;
    // extents are sorted: binary search for the first that ends after `offset`
    const rel = offset - this.partOffset, relEnd = end - this.partOffset;
    let lo = 0, hi = this.extents.length;
    while (lo < hi) { const m = (lo + hi) >> 1; if (this.extents[m][0] + this.extents[m][1] <= rel) lo = m + 1; else hi = m; }
    return lo < this.extents.length && this.extents[lo][0] < relEnd;
  }

  async read(buf: Uint8Array, offset: number): Promise<number> {
    const n = Math.max(0, Math.min(buf.length, this.size - offset));
    const out = Buffer.from(buf.buffer, buf.byteOffset, n);
    out.fill(0);
    const end = offset + n;
    for (const [o, b] of this.pieces) {
      const s = Math.max(o, offset), e = Math.min(o + b.length, end);
      if (s < e) b.copy(out, s - offset, s - o, e - o);
    }
    if (this.fd !== null) {
      for (const [eo, el] of this.extents) {
        const s = Math.max(this.partOffset + eo, offset), e = Math.min(this.partOffset + eo + el, end);
        if (s >= e) continue;
        let at = s;
        while (at < e) {
          const r = fs.readSync(this.fd, out, at - offset, e - at, at - this.partOffset);
          if (r === 0) break;
          at += r;
        }
      }
    }
    return n;
  }

  async close(): Promise<void> {
    if (this.fd !== null) { fs.closeSync(this.fd); this.fd = null; }
  }
}
