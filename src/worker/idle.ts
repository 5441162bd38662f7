// Work no answer waits for, run once the worker is idle: the record of a fresh session disk, vdisk/disksChanged, the
// watcher's re-listing, log lines. A request that follows at once (a detach right after its attach) is served first:
// every request pushes the run back by IDLE_MS, and a busy worker still runs it MAX_DELAY_MS after the first job.
// In order, each job once; a job that throws does not stop the others (it logs through its own code).

const IDLE_MS = 5;
const MAX_DELAY_MS = 50;

export class IdleQueue {
  private jobs: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private first = 0;

  constructor(private readonly idleMs = IDLE_MS, private readonly maxDelayMs = MAX_DELAY_MS) {}

  /** Runs `f` once the worker is idle (or at the latest maxDelayMs from now). */
  later(f: () => void): void {
    if (this.jobs.push(f) === 1) this.first = Date.now();
    this.arm();
  }

  /** A request arrived or finished: while jobs wait, the idle time counts from now (up to the maximum delay). */
  touch(): void {
    if (this.jobs.length) this.arm();
  }

  get size(): number { return this.jobs.length; }

  /** Runs every waiting job now (shutdown; tests). */
  flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    // one write for the log lines of the batch (stderr is a pipe to the host: one wake-up instead of one per line)
    const err = process.stderr as { cork?: () => void; uncork?: () => void };
    err.cork?.();
    try {
      for (let f = this.jobs.shift(); f; f = this.jobs.shift()) {
        try { f(); } catch { /* each job reports its own failures */ }
      }
    } finally { err.uncork?.(); }
  }

  private timerMs = 0;

  private arm(): void {
    const wait = Math.max(0, Math.min(this.idleMs, this.first + this.maxDelayMs - Date.now()));
    // the common case, a full idle wait again: restart the same timer rather than make a new one per request
    if (this.timer && wait === this.timerMs) { this.timer.refresh(); return; }
    if (this.timer) clearTimeout(this.timer);
    this.timerMs = wait;
    this.timer = setTimeout(() => { this.timer = undefined; this.flush(); }, wait);
    this.timer.unref();
  }
}

/** The worker's one queue (server.ts and the backends share it). */
export const idle = new IdleQueue();
