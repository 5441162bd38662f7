// `ls`, `cat`, `extract`: an image's files from a terminal, through the worker's vdisk/browse/* requests. Needs only
// read access to the image's files (no root, nothing attached).
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../common/protocol';
import type { WorkerClient } from '../host/worker-client';

export const BROWSE_USAGE = `  ls <image> [path] [--recursive] [--json]
                          files inside an image (path inside it with /, default /), without attaching
  cat <image> <path>      a file inside an image, to stdout
  extract <image> <path> <dest>
                          copy a file or folder out of an image (into dest when it is a folder; never replaces)`;

export interface BrowseArgs { command: string; positional: string[]; flags: Map<string, string | true> }

export async function runBrowse(args: BrowseArgs, client: WorkerClient, out: (s: string) => void,
  usage: (msg: string) => Error): Promise<number> {
  const inner = (p: string | undefined) => {
    const s = (p ?? '/').replace(/\\/g, '/');
    return s.startsWith('/') ? s : `/${s}`;
  };
  switch (args.command) {
    case 'ls': {
      if (args.positional.length < 1 || args.positional.length > 2) throw usage('ls needs an image and optionally a path inside it');
      const [image, p] = args.positional;
      const params = { image: path.resolve(image), path: inner(p) };
      const st = await client.request(P.BrowseStat, params);
      const entries = st.type === 'directory' || st.targetType === 'directory'
        ? await client.request(P.BrowseList, { ...params, recursive: args.flags.has('--recursive') }) : [st];
      for (const e of [st, ...entries]) for (const w of e.problems ?? []) process.stderr.write(`vdisk: warning: ${e.path}: ${w}\n`);
      const shape = entries.map((e) => ({ path: e.path, name: e.name, type: e.type, size: e.size, mtime: e.mtime, ...(e.target !== undefined ? { target: e.target } : {}) }));
      if (args.flags.has('--json')) out(JSON.stringify(shape, null, 2));
      else if (entries.length) out(entries.map(line).join('\n'));
      return 0;
    }
    case 'cat': {
      if (args.positional.length !== 2) throw usage('cat needs an image and a path inside it');
      const [image, p] = args.positional;
      const params = { image: path.resolve(image), path: inner(p) };
      for (let offset = 0; ;) {
        const r = await client.request(P.BrowseRead, { ...params, offset, length: P.BROWSE_READ_CHUNK });
        const b = Buffer.from(r.data, 'base64');
        if (b.length) await write(b);
        offset += b.length;
        if (r.eof || !b.length) return 0;
      }
    }
    case 'extract': {
      if (args.positional.length !== 3) throw usage('extract needs an image, a path inside it and a destination');
      const [image, p, destArg] = args.positional;
      const src = inner(p);
      let dest = path.resolve(destArg);
      if (isDir(dest)) dest = path.join(dest, path.posix.basename(src) || path.basename(image).replace(/\.[^.]+$/, ''));
      const r = await client.request(P.BrowseExtract, { image: path.resolve(image), path: src, dest });
      for (const w of r.problems ?? []) process.stderr.write(`vdisk: warning: skipped ${w}\n`);
      if (args.flags.has('--json')) out(JSON.stringify(r, null, 2));
      else out(`Extracted ${r.files} file(s), ${r.bytes} bytes, to ${r.dest}`);
      return 0;
    }
    default:
      throw usage(`unknown command ${args.command}`);
  }
}

export const BROWSE_COMMANDS = new Set(['ls', 'cat', 'extract']);

function line(e: P.BrowseEntry): string {
  const kind = e.type === 'directory' ? 'd' : e.type === 'symlink' ? 'l' : '-';
  const when = e.mtime ? new Date(e.mtime).toISOString().slice(0, 19).replace('T', ' ') : '-'.padEnd(19);
  return `${kind} ${String(e.size).padStart(12)} ${when} ${e.path}${e.type === 'symlink' ? ` -> ${e.target ?? '(target unknown)'}` : ''}`;
}

function isDir(p: string): boolean { try { return fs.statSync(p).isDirectory(); } catch { return false; } }

function write(b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    process.stdout.once('error', onError);
    if (process.stdout.write(b)) { process.stdout.off('error', onError); resolve(); } else process.stdout.once('drain', () => { process.stdout.off('error', onError); resolve(); });
  });
}
