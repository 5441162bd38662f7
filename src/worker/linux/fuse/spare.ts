// The spare server's side of its hand-over (engines/fuse-spare.ts is the worker's): the config arrives as one JSON
// line on stdin; EOF first (the worker went) or no config within the idle time ends the spare. The layers it names
// are the worker's own fds, opened and vetted by the worker (layers.ts): the spare re-opens each through
// /proc/<worker pid>/fd/<n> while the worker still holds it and checks that it is the very file the worker checked.
import * as fs from 'fs';
import type { ServerConfig } from './serve';
import type { VettedLayer } from './vetted-layers';

/** A spare's config: the server's, its layers' fds numbered in the worker, plus the log file made at attach. */
export interface SpareConfig extends ServerConfig { log: string }

/** How long an unused spare waits for an attach before it exits. */
export const SPARE_IDLE_MS = Number(process.env.VDISK_FUSE_SPARE_IDLE_MS) || 10 * 60_000;

export function readSpareConfig(input: NodeJS.ReadableStream & { destroy?: () => void }): Promise<SpareConfig> {
  return new Promise((resolve, reject) => {
    let text = '';
    const idle = setTimeout(() => done(new Error('idle')), SPARE_IDLE_MS);
    const done = (e: Error | null, c?: SpareConfig) => {
      clearTimeout(idle);
      input.removeAllListeners('data'); input.removeAllListeners('end'); input.removeAllListeners('error');
      input.destroy?.(); // configured or not, the channel is done: the worker going away later is no concern of ours
      if (e) reject(e); else resolve(c!);
    };
    input.setEncoding('utf8');
    input.on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      try { done(null, JSON.parse(text.slice(0, nl)) as SpareConfig); } catch (e) { done(e as Error); }
    });
    input.once('end', () => done(new Error('the worker went away before an attach')));
    input.once('error', (e: Error) => done(e));
  });
}

/** The worker's vetted fds re-opened here: same dev/ino as the worker checked, or the attach is refused. */
export function adoptLayers(layers: VettedLayer[], workerPid: number): VettedLayer[] {
  // the pid named at spawn must still be our parent (a worker that died and a pid reused would not be)
  if (process.ppid !== workerPid) throw new Error(`spare: the worker ${workerPid} that started this spare is gone`);
  const opened: number[] = [];
  try {
    return layers.map((l) => {
      const fd = fs.openSync(`/proc/${workerPid}/fd/${l.fd}`, fs.constants.O_RDONLY | (fs.constants.O_NOCTTY ?? 0));
      opened.push(fd);
      const st = fs.fstatSync(fd);
      if (!st.isFile() || st.dev !== l.dev || st.ino !== l.ino) throw new Error(`layer ${l.path}: the worker's fd ${l.fd} is not the file the worker checked`);
      return { ...l, fd };
    });
  } catch (e) {
    for (const fd of opened) { try { fs.closeSync(fd); } catch { /* closed */ } }
    throw e;
  }
}
