// vdisk's own FUSE server: serves ONE file, the virtual disk of an image read through its whole chain by vdisk's
// block layer, read-only, in its own process (started by engines/vdisk-fuse.ts; a worker crash does not take the
// mount down). argv[2] is the JSON ServerConfig; the chain's files are inherited fds the worker opened and checked.
// The main thread mounts and waits for signals; `threads` worker threads read requests from /dev/fuse in parallel.
// stderr is the engine's log file; the worker waits until the export file shows the disk's size.
// `--spare <worker pid> <threads>` (fuse/spare.ts): started ahead of an attach, threads and libc loaded, it waits for
// its config on stdin and re-opens the worker's vetted fds through /proc/<worker pid>/fd; EOF before that ends it.
import * as fs from 'fs';
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads';
import { ServerConfig, openServedDisk, serveLoop } from './serve';
import { checkVetted } from './vetted-layers';
import { detachMount, loadMountCalls, mountFuseFile } from './mount';
import { SpareConfig, adoptLayers, readSpareConfig } from './spare';
import { spliceMaxRead } from './splice';

/** The log: stderr, or for a spare the log file its config names (the same fd number in every thread). */
let logFd = 2;
let configuredAt = 0;
const log = (s: string) => { try { fs.writeSync(logFd, `vdisk-fuse ${process.pid}: ${s}\n`); } catch { /* no log */ } };

type FromThread = { ready: true } | { error: string } | { gone: true };

async function thread(): Promise<void> {
  // a spare's threads start before there is a config: it comes as the first message
  const first = workerData as ServerConfig | null;
  const c = first ?? await new Promise<ServerConfig & { logFd: number }>((resolve) => parentPort!.once('message', resolve));
  if (!first) logFd = (c as ServerConfig & { logFd: number }).logFd;
  let disk;
  try { disk = await openServedDisk(c); } catch (e) { parentPort!.postMessage({ error: (e as Error).message } satisfies FromThread); return; }
  parentPort!.postMessage({ ready: true } satisfies FromThread);
  parentPort!.once('message', (m: { fuseFd: number }) => {
    serveLoop(m.fuseFd, disk, c, log).then(() => parentPort!.postMessage({ gone: true } satisfies FromThread),
      (e) => { log(`thread: ${(e as Error).message}`); parentPort!.postMessage({ gone: true } satisfies FromThread); });
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--spare') return spare(Number(process.argv[3]), Number(process.argv[4]));
  const c = JSON.parse(process.argv[2] ?? '') as ServerConfig;
  checkVetted(c.layers);
  await serve(c, []);
}

async function spare(workerPid: number, threads: number): Promise<void> {
  loadMountCalls();
  const waiting = Array.from({ length: Math.max(1, threads) }, () => new Worker(__filename, { workerData: null }));
  // a spare whose thread failed before any attach exits: the worker then starts its next server afresh
  for (const w of waiting) w.once('error', () => { if (!configuredAt) process.exit(3); });
  let c: SpareConfig;
  try { c = await readSpareConfig(process.stdin); } catch { process.exit(0); } // the worker went, or the spare idled out
  configuredAt = performance.now();
  logFd = fs.openSync(c.log, 'a');
  log(`spare ${process.pid} configured by worker ${workerPid}`);
  c.layers = adoptLayers(c.layers, workerPid);
  await serve(c, waiting.slice(0, Math.max(1, c.threads)));
  for (const w of waiting.slice(Math.max(1, c.threads))) void w.terminate();
}

async function serve(c: ServerConfig, waiting: Worker[]): Promise<void> {
  // spliced replies need the whole reply in one pipe: the reads asked of the kernel shrink to what fits (1020 KiB)
  if (c.splice !== false) {
    const fit = spliceMaxRead(c.maxRead);
    if (fit) { c.maxRead = fit; c.splice = true; } else { c.splice = false; log('replies are copied: this system cannot splice them'); }
  }
  let mounted = false;
  const stop = (code: number) => {
    if (mounted) detachMount(c.mount);
    process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => stop(0));
  // one thread first: the export is served as soon as it is; the others join the reading while the attach goes on
  const start = () => {
    const spareThread = waiting.shift();
    const w = spareThread ?? new Worker(__filename, { workerData: c });
    if (spareThread) w.postMessage({ ...c, logFd });
    const ready = new Promise<void>((resolve, reject) => {
      w.once('message', (m: FromThread) => ('error' in m ? reject(new Error(m.error)) : resolve()));
      w.once('error', reject);
    });
    return { w, ready };
  };
  const first = start();
  await first.ready;
  const threadReadyMs = performance.now() - configuredAt;
  const fuseFd = fs.openSync('/dev/fuse', 'r+');
  mountFuseFile(fuseFd, c.mount, c.maxRead, c.uid, c.gid);
  mounted = true;
  const serveOn = (w: Worker) => {
    w.on('message', (m: FromThread) => { if ('gone' in m) stop(0); }); // the first thread to see the end ends us
    w.on('error', (e) => { log(`thread failed: ${e.message}`); stop(1); }); // never a mount left half served
    w.postMessage({ fuseFd });
  };
  serveOn(first.w);
  const workers = [first.w];
  for (let i = 1; i < Math.max(1, c.threads); i++) {
    const more = start();
    // a thread that cannot open the disk (it did open in the first) is only logged: the others serve
    more.ready.then(() => serveOn(more.w), (e) => log(`thread ${i}: ${(e as Error).message}`));
    workers.push(more.w);
  }
  log(`serving ${c.image} (${c.size} bytes) on ${c.mount} with ${workers.length} threads${c.spare ? ' (spare)' : ''}, ${c.maxRead >> 10} KiB reads${c.splice ? ', spliced' : ''}`);
  if (c.spare) log(`spare served ${(performance.now() - configuredAt).toFixed(1)} ms after its config (${threadReadyMs.toFixed(1)} ms to the first reader)`);
}

if (isMainThread) main().catch((e) => { log((e as Error).message); process.exit(2); });
else void thread();
