// Runs once per request in a worker_thread: 7-Zip (WebAssembly) reads one volume through a custom Emscripten file
// whose reads go to the worker's main thread (the block layer) over shared memory, and writes what it extracts
// either back to the main thread (stream) or straight into the destination folder (dest). Never the disk image
// itself: the thread has no path to it. See src/worker/browse/sevenzip.ts for the other side.
import { parentPort, workerData } from 'worker_threads';
import { SltParser } from './slt';
import { BLOCK, CTL, LINKS_LIST, ThreadData, ToMain, WASM, WasmModule } from './thread-protocol';
import { outputFs } from './output-fs';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const SevenZip = require('7z-wasm') as (opts: object) => Promise<SevenZipModule>;

export interface SevenZipModule { FS: EmFS; callMain(args: string[]): number }
// Emscripten's FS object: only what we use
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EmFS = any;

const d = workerData as ThreadData;
const i32 = new Int32Array(d.ctl, 0, 8);
const f64 = new Float64Array(d.ctl, 32, 1);
const shared = new Uint8Array(d.data);
const post = (m: ToMain, transfer?: ArrayBuffer[]) => parentPort!.postMessage(m, transfer);

// 1 MiB blocks of the volume, a few kept: 7-Zip reads metadata in small pieces, close together. The buffers are
// reused (LRU), so scanning a large file system's metadata makes no garbage.
const CACHED = 8;
const cache = new Map<number, { buf: Uint8Array; len: number }>();
function block(index: number): Uint8Array {
  let e = cache.get(index);
  if (e) { cache.delete(index); cache.set(index, e); return e.buf.subarray(0, e.len); }
  const off = index * BLOCK;
  const len = Math.min(BLOCK, d.volume.size - off);
  f64[0] = d.volume.offset + off;
  i32[CTL.len] = len;
  Atomics.store(i32, CTL.state, 1);
  post({ t: 'read' });
  Atomics.wait(i32, CTL.state, 1);
  if (Atomics.load(i32, CTL.state) !== 2) throw new Error('read failed');
  if (cache.size >= CACHED) {
    const oldest = cache.keys().next().value as number;
    e = cache.get(oldest)!;
    cache.delete(oldest);
  } else e = { buf: new Uint8Array(BLOCK), len: 0 };
  e.buf.set(shared.subarray(0, len));
  e.len = len;
  for (const p of d.volume.patches ?? []) {
    const from = Math.max(p.at, off), to = Math.min(p.at + p.bytes.length, off + len);
    if (from < to) e.buf.set(p.bytes.subarray(from - p.at, to - p.at), from - off);
  }
  Atomics.store(i32, CTL.state, 0);
  cache.set(index, e);
  return e.buf.subarray(0, len);
}

function readVolume(dst: Uint8Array, position: number): number {
  const n = Math.max(0, Math.min(dst.length, d.volume.size - position));
  let done = 0;
  while (done < n) {
    const p = position + done;
    const b = block(Math.floor(p / BLOCK));
    const from = p % BLOCK;
    const k = Math.min(n - done, b.length - from);
    dst.set(b.subarray(from, from + k), done);
    done += k;
  }
  return n;
}

function inputFs(FS: EmFS) {
  const attr = (node: { id: number; mode: number }, size: number) => ({ dev: 1, ino: node.id, mode: node.mode, nlink: 1, uid: 0, gid: 0,
    rdev: 0, size, atime: new Date(0), mtime: new Date(0), ctime: new Date(0), blksize: 4096, blocks: Math.ceil(size / 4096) });
  return {
    mount() {
      const root = FS.createNode(null, '/', 0o40555, 0);
      root.node_ops = {
        getattr: (n: { id: number; mode: number }) => attr(n, 4096),
        lookup: (p: { contents: Record<string, unknown> }, name: string) => { const n = p.contents[name]; if (!n) throw new FS.ErrnoError(44); return n; },
        readdir: (n: { contents: Record<string, unknown> }) => ['.', '..', ...Object.keys(n.contents)],
        setattr() { throw new FS.ErrnoError(63); },
      };
      root.stream_ops = {};
      root.contents = {};
      const file = FS.createNode(root, 'volume', 0o100444, 0);
      file.node_ops = { getattr: (n: { id: number; mode: number }) => attr(n, d.volume.size), setattr() { throw new FS.ErrnoError(63); } };
      file.stream_ops = {
        read(_s: unknown, buffer: Int8Array, offset: number, length: number, position: number) {
          try {
            return readVolume(new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length), position);
          } catch { throw new FS.ErrnoError(29 /* EIO */); }
        },
        llseek(s: { position: number }, offset: number, whence: number) {
          const p = offset + (whence === 1 ? s.position : whence === 2 ? d.volume.size : 0);
          if (p < 0) throw new FS.ErrnoError(28);
          return p;
        },
      };
      root.contents.volume = file;
      return root;
    },
  };
}

/**
 * 7-Zip's stdout is a TTY device that hands JavaScript one character at a time: a 100,000-file listing is 40 million
 * calls. Its writes (a few bytes each) are gathered into 64 KiB and decoded and split into lines per 64 KiB: decoding
 * each write on its own cost more than 7-Zip's formatting. Returns what flushes the last bytes.
 */
function bulkStdout(FS: EmFS, parser: SltParser): () => void {
  const stream = FS.getStream(1);
  if (!stream) return () => undefined;
  const decoder = new TextDecoder();
  const buf = new Uint8Array(64 * 1024);
  let used = 0;
  let rest = '';
  const lines = (bytes: Uint8Array, final: boolean) => {
    const text = rest + decoder.decode(bytes, { stream: !final });
    const all = text.split('\n');
    rest = final ? '' : all.pop()!;
    for (const l of all) parser.push(l.endsWith('\r') ? l.slice(0, -1) : l);
  };
  stream.stream_ops = {
    ...stream.stream_ops,
    write(_s: unknown, buffer: Int8Array, offset: number, length: number) {
      if (used + length > buf.length) { lines(buf.subarray(0, used), false); used = 0; }
      if (length <= 64) {   // most writes are a few bytes: copied without making a view (garbage) per write
        for (let i = 0; i < length; i++) buf[used + i] = buffer[offset + i];
        used += length;
      } else {
        const src = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length);
        if (length > buf.length) lines(src, false); else { buf.set(src, used); used += length; }
      }
      return length;
    },
  };
  return () => { lines(buf.subarray(0, used), true); used = 0; };
}

async function main(): Promise<void> {
  const parser = d.op.kind === 'list' ? new SltParser() : undefined;
  const errors: string[] = [];
  const refused: string[] = [];
  const sz = await SevenZip({
    print: (s: string) => { if (parser) parser.push(s); },
    printErr: (s: string) => {
      // op `links`: 7-Zip names each link it will not make (one leading out of the volume) with its target
      const m = d.op.kind === 'links' && /^ERROR: Dangerous (?:symbolic )?link path was ignored : (.*)$/.exec(s);
      if (m) refused.push(m[1]);
      else if (s.trim() && errors.length < 20) errors.push(s.trim());
    },
    noExitRuntime: true,
    // a memory cap 7-Zip sees as a failed allocation ("Can't allocate required memory"), not a crash of the process
    instantiateWasm(imports: { env: Record<string, unknown> }, done: (i: object, m: WasmModule) => void) {
      const grow = imports.env.emscripten_resize_heap as (n: number) => boolean;
      imports.env.emscripten_resize_heap = (n: number) => (n >>> 0) > d.memoryCap ? false : grow(n);
      void WASM.instantiate(d.module, imports).then((inst) => done(inst, d.module));
      return {};
    },
  });
  const FS = sz.FS;
  const flushStdout = parser ? bulkStdout(FS, parser) : undefined;
  FS.mkdir('/in');
  FS.mount(inputFs(FS), {}, '/in');
  let stats = { files: 0, bytes: 0 };
  let links: Record<string, string> | undefined;
  if (d.op.kind !== 'list') {
    FS.mkdir('/out');
    const out = outputFs(FS, d.op, post, i32);
    FS.mount(out.fs, {}, '/out');
    stats = out.stats;
    links = out.links;
  }
  if (d.op.kind === 'links') FS.writeFile(LINKS_LIST, d.op.paths.join('\n') + '\n');
  const rc = sz.callMain(d.args);
  flushStdout?.();
  const listing = parser && rc === 0 ? parser.finish() : undefined;
  if (d.op.kind === 'links') {
    // `<path> : <target>`: the longest requested path that starts the line is the link's (a name may hold ' : ')
    const asked = [...d.op.paths].sort((a, b) => b.length - a.length);
    for (const r of refused) {
      const p = asked.find((x) => r.startsWith(`${x} : `));
      if (p !== undefined && links![p] === undefined) links![p] = r.slice(p.length + 3);
    }
  }
  post({ t: 'done', rc, errors, listing, files: stats.files, bytes: stats.bytes, links: d.op.kind === 'links' ? links : undefined });
}

main().catch((e: Error) => post({ t: 'done', rc: -1, errors: [e.message], files: 0, bytes: 0 }));
