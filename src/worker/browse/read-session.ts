// Sequential reads of one file served from one running `7z e`: each vdisk/browse/read takes the next bytes of the
// stream, so reading a file of any size in chunks costs one extraction and at most STREAM_WINDOW bytes of memory.
// A read at another offset starts over (skipping to it); a session unused for IDLE_MS ends its 7-Zip thread.
import type { Running, RunResult } from './sevenzip';

type Start = (onData: (b: Uint8Array) => void, cancelled: Promise<void>) => Running;
const IDLE_MS = 60_000;

class Session {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  pos = 0;
  private finished = false;
  private error: unknown;
  private wake: (() => void) | undefined;
  private readonly running: Running;
  private cancel!: () => void;
  private idle: NodeJS.Timeout | undefined;
  /** Reads of one session run one after another. */
  chain: Promise<unknown> = Promise.resolve();

  constructor(start: Start, mapError: (e: unknown) => unknown, private readonly onEnd: () => void) {
    const cancelled = new Promise<void>((resolve) => { this.cancel = resolve; });
    this.running = start((b) => { this.queue.push(b); this.queued += b.length; this.poke(); }, cancelled);
    this.running.done.then((r: RunResult) => {
      if (r.rc !== 0) this.error = mapError(new Error(r.errors.join(' ') || `7-Zip exit code ${r.rc}`));
    }, (e) => { this.error = mapError(e); }).finally(() => { this.finished = true; this.poke(); });
    this.touch();
  }

  private poke(): void { const w = this.wake; this.wake = undefined; w?.(); }
  private touch(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => this.stop(), IDLE_MS);
    this.idle.unref?.();
  }

  /** The next `n` bytes (fewer only at the end of the file). */
  async take(n: number, keep = true): Promise<Uint8Array> {
    // idle means no read waiting: a slow 7-Zip (a loaded machine) never has its session ended under a waiting read
    if (this.idle) clearTimeout(this.idle);
    while (this.queued < n && !this.finished) await new Promise<void>((r) => { this.wake = r; });
    if (this.error && this.queued < n) throw this.error;
    const out = keep ? new Uint8Array(Math.min(n, this.queued)) : undefined;
    let got = 0;
    while (got < n && this.queue.length) {
      const head = this.queue[0];
      const k = Math.min(head.length, n - got);
      out?.set(head.subarray(0, k), got);
      if (k === head.length) this.queue.shift(); else this.queue[0] = head.subarray(k);
      got += k;
    }
    this.queued -= got;
    this.pos += got;
    this.running.consumed(got);
    this.touch();
    return out ?? new Uint8Array(0);
  }

  get exhausted(): boolean { return this.finished && this.queued === 0; }

  stop(): void {
    if (this.idle) clearTimeout(this.idle);
    this.cancel();
    this.running.stop();
    this.onEnd();
  }
}

export class ReadSessions {
  private readonly sessions = new Map<string, Session>();

  async read(key: string, size: number, offset: number, length: number, start: Start, mapError: (e: unknown) => unknown): Promise<Uint8Array> {
    if (offset >= size) return new Uint8Array(0);
    let s = this.sessions.get(key);
    if (s && s.pos !== offset) { s.stop(); s = undefined; }
    if (!s) {
      const created: Session = new Session(start, mapError, () => { if (this.sessions.get(key) === created) this.sessions.delete(key); });
      s = created;
      this.sessions.set(key, s);
    }
    const session = s;
    const job = session.chain.then(async () => {
      if (offset > session.pos) await session.take(offset - session.pos, false);
      const data = await session.take(Math.min(length, size - offset));
      if (session.pos >= size || session.exhausted) session.stop();
      return data;
    });
    session.chain = job.catch(() => undefined);
    try { return await job; } catch (e) { session.stop(); throw e; }
  }

  dispose(): void { for (const s of [...this.sessions.values()]) s.stop(); }
}
