// `node dist/cli.js <command>`: the same worker and protocol as the extension, from a terminal.
// Exit codes: 0 success, 1 usage error, 2 operation failed (one line on stderr).
import * as path from 'path';
import * as P from '../common/protocol';
import { WorkerClient, Logger } from '../host/worker-client';
import { formatDisk, formatImage, formatWslDisks } from './format';
import { layerLabel } from '../common/describe';
import { capabilityReport } from '../common/describe-capabilities';
import { spawnLauncher } from '../host/elevation-launch';
import { ArgError, convertArgs, createArgs, resizeArgs } from './manage-args';
import { formatSize } from '../common/sizes';
import { BROWSE_COMMANDS, BROWSE_USAGE, runBrowse } from './browse';

const USAGE = `usage: vdisk <command> [options]
  attach <image> [--read-only] [--lifetime session|permanent] [--wait] [--elevate] [--json]
                          attach an image (default lifetime: permanent; --wait holds a session attach until Ctrl-C)
  detach <device|image> [--elevate] [--json]
  mount <device> [--elevate] [--json]      mount the volumes of an attached disk (or one volume)
  unmount <device> [--elevate] [--json]
  list [--json]           every attached virtual disk (ours and other tools')
  inspect <image> [--json]
  chain <image> [--json]  every layer of the image (parents, backing/data files, extents), self first
  create-diff <parent> <child> [--json]
                          create a differencing VHD/VHDX child (format from the child's extension)
  deps <device|path> [--json]
  capabilities [--json]   what this user can attach here, how, and what is missing
  create <path> --size SIZE --format vhd|vhdx --type dynamic|fixed [--block-size N] [--logical-sector 512|4096]
         [--physical-sector 512|4096] [--init gpt] [--fs ext4|ntfs|fat32|exfat] [--label L] [--json]
                          a new empty disk (SIZE in bytes or with K, M, G, T: powers of 1024); --init gpt writes a GPT,
                          --fs adds one partition with that file system (Linux: mkfs.ext4, mkntfs, mkfs.vfat, mkfs.exfat)
  set-parent <child> <parent> [--ignore-id-mismatch] [--json]
                          reconnect a differencing disk to its moved or renamed parent
  convert <source> <dest> --format vhd|vhdx|raw [--type dynamic|fixed] [--force] [--json]
                          one standalone image from an image and its whole chain (never over DEST without --force)
  merge <child> [--into <ancestor>] [--keep-child] [--force] [--json]
                          write a differencing disk's data into its parent (or an ancestor), then remove it
  compact <image> [--zero-only] [--json]
                          release a dynamic VHD/VHDX's zero blocks and those a clean ext4 or NTFS inside marks free; qcow2 via qemu-img
  wsl-disks [--json]      the ext4.vhdx of each WSL distribution and Docker Desktop's disks: size on disk against data
  resize <image> --size SIZE | --smallest [--dry-run] [--force] [--json]
                          grow, or shrink as far as partitions and data allow (raw, VHD, VHDX; qcow2 via qemu-img)
${BROWSE_USAGE}
--elevate (Linux): run the worker as root through sudo (it prompts on a terminal; sudo -n otherwise); it attaches
only images you can read yourself, and its mounts belong to you.
Use -- before a file name that starts with a dash.`;

class UsageError extends Error {}
const isUsage = (e: unknown) => e instanceof UsageError || e instanceof ArgError;

interface Args { command: string; positional: string[]; flags: Map<string, string | true> }

const VALUE_FLAGS = new Set(['--into', '--lifetime', '--size', '--format', '--type', '--block-size', '--logical-sector', '--physical-sector', '--init', '--fs', '--label']);
const BOOL_FLAGS = new Set(['--read-only', '--wait', '--json', '--help', '-h', '--ignore-id-mismatch', '--elevate', '--force', '--keep-child', '--zero-only', '--recursive', '--smallest', '--dry-run']);
const ELEVATABLE = new Set(['attach', 'detach', 'mount', 'unmount']);

export function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  let rest = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (rest || !a.startsWith('-') || a === '-') { positional.push(a); continue; }
    if (a === '--') { rest = true; continue; }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (VALUE_FLAGS.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      flags.set(name, v);
    } else if (BOOL_FLAGS.has(name) && eq < 0) flags.set(name, true);
    else throw new UsageError(`unknown option ${a}`);
  }
  const command = positional.shift() ?? '';
  return { command, positional, flags };
}

function need(args: Args, n: number, what: string): string[] {
  if (args.positional.length !== n) throw new UsageError(`${args.command} needs ${what}`);
  return args.positional;
}

async function run(args: Args, client: WorkerClient, out: (s: string) => void): Promise<number> {
  const json = args.flags.has('--json');
  const print = (v: unknown, text: () => string) => out(json ? JSON.stringify(v, null, 2) : text());
  if (BROWSE_COMMANDS.has(args.command)) return runBrowse(args, client, out, (m) => new UsageError(m));
  switch (args.command) {
    case 'attach': {
      const [image] = need(args, 1, 'one image path');
      const wait = args.flags.has('--wait');
      const lifetime = (args.flags.get('--lifetime') as string | undefined) ?? (wait ? 'session' : 'permanent');
      if (lifetime !== 'session' && lifetime !== 'permanent') throw new UsageError('--lifetime is session or permanent');
      if (wait && lifetime !== 'session') throw new UsageError('--wait holds a session attach; it cannot be used with --lifetime permanent');
      if (!wait && lifetime === 'session') throw new UsageError('a session attach ends with this command: add --wait to hold it');
      // listen before attaching: a Ctrl-C at any moment must end in a clean release, never in the default kill
      const interrupted = wait ? new Promise<void>((resolve) => { process.on('SIGINT', () => resolve()); process.on('SIGTERM', () => resolve()); }) : undefined;
      const disk = await client.request(P.Attach, { path: path.resolve(image), readOnly: args.flags.has('--read-only'), lifetime });
      print(disk, () => `Attached ${disk.image} as ${disk.device} (${formatDisk(disk)})`);
      if (interrupted) {
        process.stderr.write('Attached for this session; press Ctrl-C to detach.\n');
        await interrupted;
      }
      return 0;
    }
    case 'detach': {
      const [target] = need(args, 1, 'a device or image path');
      const t = target.startsWith('/dev/') || target.startsWith('\\\\.\\') ? target : path.resolve(target);
      const r = await client.request(P.Detach, { target: t });
      print(r, () => `Detached ${r.device}${r.image ? ` (${r.image})` : ''}`);
      return 0;
    }
    case 'mount': case 'unmount': {
      const [device] = need(args, 1, 'a device');
      const vols = await client.request(args.command === 'mount' ? P.Mount : P.Unmount, { device });
      print(vols, () => vols.map((v) => `${v.device}\t${v.fsType ?? '?'}\t${v.mountPoint ?? '(not mounted)'}`).join('\n') || 'No volumes.');
      return 0;
    }
    case 'list': {
      need(args, 0, 'no arguments');
      const disks = await client.request(P.List);
      print(disks, () => disks.length ? disks.map((d) => `${d.device}\t${d.image ?? '?'}\t${formatDisk(d)}`).join('\n') : 'No virtual disks attached.');
      return 0;
    }
    case 'inspect': {
      const [image] = need(args, 1, 'one image path');
      const info = await client.request(P.Inspect, { path: path.resolve(image) });
      print(info, () => formatImage(info));
      return 0;
    }
    case 'chain': {
      const [image] = need(args, 1, 'one image path');
      const info = await client.request(P.Inspect, { path: path.resolve(image) });
      print(info.chain, () => info.chain.map((c, i) => `${'  '.repeat(c.level ? c.level - 1 : i)}${c.path} (${layerLabel(c)}${c.format}${c.subtype ? ` ${c.subtype}` : ''}${c.id ? `, ${c.id}` : ''})`).join('\n'));
      for (const p of info.problems) process.stderr.write(`problem ${p.code}: ${p.message}\n`);
      return 0;
    }
    case 'create-diff': {
      const [parent, child] = need(args, 2, 'a parent and a child path');
      const r = await client.request(P.CreateDiff, { parent: path.resolve(parent), child: path.resolve(child) });
      print(r, () => `Created ${r.format.toUpperCase()} differencing disk ${r.child}`);
      return 0;
    }
    case 'deps': {
      const [target] = need(args, 1, 'a device or path');
      const t = target.startsWith('/dev/') ? target : path.resolve(target);
      const deps = await client.request(P.Deps, { target: t });
      print(deps, () => deps.map((d) => `${d.ancestorLevel}\t${d.dependencyDevice}\t${d.dependentVolumeRelativePath}\t${d.flags.join(',')}`).join('\n'));
      return 0;
    }
    case 'capabilities': {
      need(args, 0, 'no arguments');
      const caps = await client.request(P.GetCapabilities);
      print(caps, () => capabilityReport(caps));
      return 0;
    }
    case 'create': {
      const [file] = need(args, 1, 'one image path');
      const params = createArgs(path.resolve(file), (f) => args.flags.get(f));
      const r = await withProgress(client, 'create', (progressToken) => client.request(P.CreateImage, { ...params, progressToken }));
      print(r, () => `Created ${r.type} ${r.format.toUpperCase()} ${r.path} (${formatSize(r.size)}${r.blockSize ? `, ${formatSize(r.blockSize)} blocks` : ''}, ${r.logicalSectorSize}/${r.physicalSectorSize}-byte sectors)${initText(r)}`);
      return 0;
    }
    case 'set-parent': {
      const [child, parent] = need(args, 2, 'a child and a parent path');
      const r = await client.request(P.SetParent, { child: path.resolve(child), parent: path.resolve(parent), ignoreIdMismatch: args.flags.has('--ignore-id-mismatch') });
      print(r, () => `${r.child} now names ${r.parent} (relative ${r.locators.relative}, absolute ${r.locators.absolute})${r.idRewritten ? '; its parent identity was rewritten' : ''}`);
      return 0;
    }
    case 'convert': {
      const [source, dest] = need(args, 2, 'a source and a destination path');
      const params = convertArgs(path.resolve(source), path.resolve(dest), (f) => args.flags.get(f));
      const r = await withProgress(client, 'convert', (progressToken) => client.request(P.Convert, { ...params, progressToken }));
      print(r, () => `Wrote ${r.type} ${r.format.toUpperCase()} ${r.dest} (${formatSize(r.virtualSize)} disk, ${formatSize(r.dataBytes)} of data, file ${formatSize(r.fileSize)})`);
      return 0;
    }
    case 'merge': {
      const [child] = need(args, 1, 'one differencing disk');
      const into = args.flags.get('--into');
      const r = await withProgress(client, 'merge', (progressToken) => client.request(P.Merge, {
        child: path.resolve(child), into: typeof into === 'string' ? path.resolve(into) : undefined,
        keepChild: args.flags.has('--keep-child'), force: args.flags.has('--force'), progressToken,
      }));
      print(r, () => `Merged ${r.merged.map((m) => path.basename(m)).join(', ')} into ${r.target} (${formatSize(r.bytes)})${r.removed.length ? `; removed ${r.removed.map((m) => path.basename(m)).join(', ')}` : ''}`);
      return 0;
    }
    case 'compact': {
      const [image] = need(args, 1, 'one image path');
      const r = await withProgress(client, 'compact', (progressToken) => client.request(P.Compact, { path: path.resolve(image), zeroOnly: args.flags.has('--zero-only'), progressToken }));
      print(r, () => `Compacted ${r.image}: ${formatSize(r.before)} -> ${formatSize(r.after)} (${formatSize(Math.max(0, r.before - r.after))} reclaimed)${r.freedByFileSystem ? `; ${r.freedByFileSystem} block(s) that ${r.fileSystems.map((f) => (f.type === 'ntfs' ? 'NTFS' : f.type)).join('/') || 'a file system'} marks free released` : ''}`);
      return 0;
    }
    case 'wsl-disks': {
      need(args, 0, 'no arguments');
      const r = await client.request(P.WslDisks, {});
      print(r, () => formatWslDisks(r));
      return 0;
    }
    case 'resize': {
      const [image] = need(args, 1, 'one image path');
      const params = resizeArgs(path.resolve(image), (f) => args.flags.get(f));
      const r = await withProgress(client, 'resize', (progressToken) => client.request(P.Resize, { ...params, progressToken }));
      print(r, () => [r.dryRun ? `${r.image} would be resized: ${formatSize(r.before)} -> ${formatSize(r.after)} (${r.after} bytes)`
        : r.after === r.before ? `${r.image} stays ${formatSize(r.before)} (${r.before} bytes)` : `Resized ${r.image}: ${formatSize(r.before)} -> ${formatSize(r.after)} (${r.after} bytes; file ${formatSize(r.fileBefore)} -> ${formatSize(r.fileAfter)})`,
      ...r.notes].join('\n'));
      return 0;
    }
    case '':
      throw new UsageError('no command given');
    default:
      throw new UsageError(`unknown command ${args.command}`);
  }
}

/** Runs a long request with a progress token; a terminal sees the percentage on stderr. */
async function withProgress<R>(client: WorkerClient, what: string, fn: (token: string) => Promise<R>): Promise<R> {
  const token = `${what}-${process.pid}`;
  const tty = process.stderr.isTTY;
  const on = (p: P.ProgressParams) => { if (tty && p.token === token) process.stderr.write(`\r${what}: ${Math.floor((100 * p.done) / Math.max(1, p.total))}%`); };
  client.on('progress', on);
  try { return await fn(token); } finally {
    client.off('progress', on);
    if (tty) process.stderr.write('\r\x1b[K');
  }
}

const quietLog: Logger = {
  trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m) => { if (process.env.VDISK_DEBUG) process.stderr.write(`${m}\n`); },
  error: (m) => { if (process.env.VDISK_DEBUG) process.stderr.write(`${m}\n`); },
};
const debugLog: Logger = { trace: (m) => process.stderr.write(`${m}\n`), debug: (m) => process.stderr.write(`${m}\n`), info: (m) => process.stderr.write(`${m}\n`), warn: (m) => process.stderr.write(`${m}\n`), error: (m) => process.stderr.write(`${m}\n`) };

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
    if (args.flags.has('--help') || args.flags.has('-h')) { process.stdout.write(`${USAGE}\n`); return 0; }
    if (!args.command) throw new UsageError('no command given');
  } catch (e) {
    process.stderr.write(`vdisk: ${(e as Error).message}\n${USAGE}\n`);
    return 1;
  }
  const client = new WorkerClient({
    workerPath: path.join(__dirname, 'worker.js'), client: 'vdisk-cli',
    log: process.env.VDISK_DEBUG ? debugLog : quietLog, restartBudget: { crashes: 1, windowMs: 60_000 },
  });
  try {
    if (args.flags.has('--elevate')) {
      if (!ELEVATABLE.has(args.command)) throw new UsageError(`--elevate applies to ${[...ELEVATABLE].join(', ')}`);
      await client.elevate({ launcher: cliElevation() });
    }
    return await run(args, client, (s) => process.stdout.write(`${s}\n`));
  } catch (e) {
    if (isUsage(e)) { process.stderr.write(`vdisk: ${e.message}\n${USAGE}\n`); return 1; }
    process.stderr.write(`vdisk: ${oneLine((e as Error).message ?? String(e))}\n`);
    return 2;
  } finally {
    await client.stop();
  }
}

/** sudo: it prompts on the terminal when there is one (stdin a TTY), and is told not to (-n) otherwise. */
function cliElevation() {
  if (process.platform !== 'linux') throw new UsageError('--elevate is for Linux (sudo); on Windows run the command from an elevated prompt');
  return spawnLauncher('sudo', { nodePath: process.execPath, interactive: !!process.stdin.isTTY, onLog: (l) => { if (process.env.VDISK_DEBUG) process.stderr.write(`${l}\n`); } });
}

function oneLine(s: string): string { return s.replace(/\s*\n\s*/g, ' '); }

if (require.main === module) void main().then((code) => process.exit(code));

function initText(r: P.CreateImageResult): string {
  if (!r.init) return '';
  const p = r.init.partition;
  return p ? `; GPT with one ${p.fileSystem} partition${p.label ? ` "${p.label}"` : ''} at ${formatSize(p.offset)}, ${formatSize(p.size)}` : '; an empty GPT';
}
