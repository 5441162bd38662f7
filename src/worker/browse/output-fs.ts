// The Emscripten file system 7-Zip extracts into (inside the 7-Zip thread). `dest`: each folder, file and link it
// creates is created for real under the destination, never over an existing one (O_EXCL, O_NOFOLLOW), and never
// above it; file data is written as it comes. `stream`: file data goes to the main thread, under flow control.
import * as fs from 'fs';
import * as path from 'path';
import { CTL, STREAM_WINDOW, ThreadOp, ToMain } from './thread-protocol';
import type { EmFS } from './sevenzip-thread';

interface OutNode {
  id: number; mode: number; name: string; parent: OutNode;
  contents: Record<string, OutNode>; depth: number; /** its path under 7-Zip's output folder */ vpath: string; real?: string; fd?: number; link?: string; size: number;
  /** The inode of the real file this run created. */
  realIno?: number;
  node_ops: object; stream_ops: object;
}
const ENOENT = 44, EPERM = 63, EIO = 29, EEXIST = 20;
const S_IFDIR = 0o040000, S_IFREG = 0o100000, S_IFMT = 0o170000;
const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0);

export function outputFs(FS: EmFS, op: Exclude<ThreadOp, { kind: 'list' }>, post: (m: ToMain) => void, i32: Int32Array) {
  const stats = { files: 0, bytes: 0 };
  /** op `links`: the target of each link 7-Zip made, by its path in the volume */
  const links: Record<string, string> = {};
  let lastProgress = 0;
  const fail = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FS.ErrnoError(code === 'EEXIST' ? EEXIST : code === 'EACCES' || code === 'EPERM' ? 2 : EIO);
  };
  const realFor = (parent: OutNode, name: string): string | undefined => {
    if (op.kind !== 'dest') return undefined;
    if (name === '.' || name === '..' || name.includes('/') || name.includes('\0')) throw new FS.ErrnoError(EPERM);
    const depth = parent.depth + 1;
    if (depth <= op.skip) return undefined;
    if (depth === op.skip + 1) return op.dest;
    if (!parent.real) throw new FS.ErrnoError(EPERM);
    return path.join(parent.real, name);
  };
  const attr = (n: OutNode) => ({ dev: 2, ino: n.id, mode: n.mode, nlink: 1, uid: 0, gid: 0, rdev: 0, size: n.size,
    atime: new Date(0), mtime: new Date(0), ctime: new Date(0), blksize: 4096, blocks: Math.ceil(n.size / 4096) });

  const nodeOps = {
    getattr: attr,
    setattr() { /* modes and times of extracted files are not copied */ },
    lookup(parent: OutNode, name: string) { const n = parent.contents[name]; if (!n) throw new FS.ErrnoError(ENOENT); return n; },
    readdir: (n: OutNode) => ['.', '..', ...Object.keys(n.contents)],
    readlink(n: OutNode) { if (n.link === undefined) throw new FS.ErrnoError(28); return n.link; },
    mknod(parent: OutNode, name: string, mode: number) {
      const real = realFor(parent, name);
      const isDir = (mode & S_IFMT) === S_IFDIR;
      if (parent.contents[name]) throw new FS.ErrnoError(EEXIST);
      let fd: number | undefined;
      try {
        if (isDir) { if (real) fs.mkdirSync(real); }
        else if (op.kind === 'dest') { if (!real) throw new FS.ErrnoError(EPERM); fd = fs.openSync(real, CREATE, 0o644); }
        else if (op.kind === 'stream' && stats.files > 0) throw new FS.ErrnoError(EPERM);
      } catch (e) { if (e instanceof FS.ErrnoError) throw e; fail(e); }
      if (!isDir) stats.files++;
      const n = make(parent, name, mode, real, fd);
      if (fd !== undefined) n.realIno = fs.fstatSync(fd).ino;
      return n;
    },
    symlink(parent: OutNode, name: string, target: string) {
      if (op.kind === 'links') {
        if (parent.contents[name]) throw new FS.ErrnoError(EEXIST);
        const n = make(parent, name, 0o120777);
        links[n.vpath] = n.link = target;
        return n;
      }
      const real = realFor(parent, name);
      if (!real) throw new FS.ErrnoError(EPERM);
      try { fs.symlinkSync(target, real); } catch (e) { fail(e); }
      stats.files++;
      const n = make(parent, name, 0o120777, real);
      n.link = target;
      return n;
    },
    rename() { throw new FS.ErrnoError(EPERM); },
    // 7-Zip writes a link whose target is its data (squashfs, HFS+) as a file first, then replaces it with the link:
    // only a regular file this run created (exclusively) may go, never anything that was there before
    unlink(parent: OutNode, name: string) {
      const n = parent.contents[name];
      if (!n || (n.mode & S_IFMT) !== S_IFREG) throw new FS.ErrnoError(n ? EPERM : ENOENT);
      if (n.real) {
        if (n.fd !== undefined) { fs.closeSync(n.fd); n.fd = undefined; }
        try { if (fs.lstatSync(n.real).ino !== n.realIno) throw new FS.ErrnoError(EPERM); fs.unlinkSync(n.real); } catch (e) { if (e instanceof FS.ErrnoError) throw e; fail(e); }
      }
      delete parent.contents[name];
      stats.files--;
      stats.bytes -= n.size;
    },
    rmdir() { throw new FS.ErrnoError(EPERM); },
  };
  const streamOps = {
    open(s: { node: OutNode }) {
      const n = s.node;
      if (op.kind === 'dest' && n.fd === undefined && n.real) {
        try { n.fd = fs.openSync(n.real, fs.constants.O_WRONLY | (fs.constants.O_NOFOLLOW ?? 0)); } catch (e) { fail(e); }
      }
    },
    close(s: { node: OutNode }) { if (s.node.fd !== undefined) { fs.closeSync(s.node.fd); s.node.fd = undefined; } },
    llseek(s: { position: number; node: OutNode }, offset: number, whence: number) {
      return offset + (whence === 1 ? s.position : whence === 2 ? s.node.size : 0);
    },
    write(s: { node: OutNode }, buffer: Int8Array, offset: number, length: number, position: number) {
      const n = s.node;
      const view = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length);
      if (op.kind === 'links') { /* a link's data: 7-Zip hands it to symlink (or names it when it refuses it) */ } else if (op.kind === 'dest') {
        try { fs.writeSync(n.fd!, view, 0, length, position); } catch (e) { fail(e); }
      } else {
        if (position !== n.size) throw new FS.ErrnoError(EIO);   // a stream is written front to back
        Atomics.add(i32, CTL.pending, length);
        post({ t: 'data', buf: view.slice() });
        for (let p = Atomics.load(i32, CTL.pending); p > STREAM_WINDOW; p = Atomics.load(i32, CTL.pending)) Atomics.wait(i32, CTL.pending, p);
      }
      n.size = Math.max(n.size, position + length);
      stats.bytes += length;
      if (stats.bytes - lastProgress >= 4 * 1024 * 1024) { lastProgress = stats.bytes; post({ t: 'progress', bytes: stats.bytes, files: stats.files }); }
      return length;
    },
  };
  function make(parent: OutNode | null, name: string, mode: number, real?: string, fd?: number): OutNode {
    const n = FS.createNode(parent, name, mode, 0) as OutNode;
    n.node_ops = nodeOps;
    n.stream_ops = (mode & S_IFMT) === S_IFDIR ? {} : streamOps;
    n.contents = {};
    n.depth = parent ? parent.depth + 1 : 0;
    n.vpath = parent?.vpath ? `${parent.vpath}/${name}` : parent ? name : '';
    n.real = real; n.fd = fd; n.size = 0;
    if (parent) parent.contents[name] = n;
    return n;
  }
  const mount = () => {
    // skip -1: 7-Zip's output folder itself is the destination (a whole volume)
    if (op.kind === 'dest' && op.skip === -1) { fs.mkdirSync(op.dest); return make(null, '/', S_IFDIR | 0o755, op.dest); }
    return make(null, '/', S_IFDIR | 0o755);
  };
  return { stats, links, fs: { mount } };
}
