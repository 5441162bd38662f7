// Notices disks attached or detached by other tools (losetup, udisks, Disk Management, Mount-DiskImage) by
// polling the backend's cheap state (its changeSignature, else list(): sysfs reads on Linux) and comparing; the
// host refreshes on change.
import type { Backend } from './backend';

const INTERVAL_MS = 2000;

export class ExternalChangeWatcher {
  private last: string | undefined;
  private readonly timer: NodeJS.Timeout;
  private inflight: Promise<void> | undefined;

  constructor(private readonly backend: Backend, private readonly onChange: () => void, intervalMs = INTERVAL_MS) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
    void this.tick();
  }

  /** After our own attach/detach: take the new state as known so it is not reported twice. */
  reset(): void { this.last = undefined; void this.tick(true); }

  /** One poll (the timer's; tests await it directly). A poll already running is joined, not doubled. */
  tick(silent = false): Promise<void> {
    this.inflight ??= this.poll(silent).finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  private async poll(silent: boolean): Promise<void> {
    try {
      const sig = this.backend.changeSignature ? await this.backend.changeSignature()
        : (await this.backend.list()).map((d) => `${d.device}|${d.image}|${d.readOnly}|${d.lifetime}`).join('\n');
      if (this.last !== undefined && sig !== this.last && !silent) this.onChange();
      this.last = sig;
    } catch { /* listing failed: report nothing, try again next tick */ }
  }

  dispose(): void { clearInterval(this.timer); }
}
