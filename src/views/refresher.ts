// The one owner of tree refreshes: everything that may change the disks asks here. Requests are
// debounced, and while the view is hidden they only mark it stale; it reloads when shown again.
import * as vscode from 'vscode';

export class Refresher implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private stale = false;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly reload: () => Promise<unknown>,
    private readonly isVisible: () => boolean,
    onDidChangeVisibility: vscode.Event<unknown>,
    private readonly delayMs = 150,
    /** The debounce timer; tests pass their own to step time instead of sleeping. */
    private readonly timers: { set(fn: () => void, ms: number): NodeJS.Timeout; clear(t: NodeJS.Timeout | undefined): void } =
      { set: (fn, ms) => setTimeout(fn, ms), clear: (t) => clearTimeout(t) },
  ) {
    this.disposables.push(onDidChangeVisibility(() => { if (this.isVisible() && this.stale) this.request(); }));
  }

  /** Something may have changed: reload soon if visible, else when next shown. */
  request(): void {
    if (!this.isVisible()) { this.stale = true; return; }
    this.timers.clear(this.timer);
    this.timer = this.timers.set(() => void this.now(), this.delayMs);
  }

  /** Reload right away (the Refresh command, and after our own attach/detach); resolves when painted. */
  async now(): Promise<void> {
    this.timers.clear(this.timer);
    this.stale = false;
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      do { this.again = false; await this.reload(); } while (this.again);
    })().finally(() => { this.running = undefined; });
    return this.running;
  }

  dispose(): void {
    this.timers.clear(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
