// The one owner of refreshes (the model: vscode-containers' RefreshManager). Everything that may change what the
// views show comes here with a typed reason: the worker's vdisk/disksChanged and crash events (subscribed here),
// our own commands, the tree becoming visible, files an inspector watches. Disk changes are debounced; while the
// tree is hidden and nobody holds an interest in the listing, they only mark it stale, and the status bar and the
// `vdisk.attachedImages` context key are kept current from a plain listing. Files changing on disk are debounced
// per owner, so an inspector keeps no timer of its own.
import * as vscode from 'vscode';
import type { AttachedDisk, DisksChangedParams } from '../common/protocol';

export type RefreshReason =
  /** vdisk/disksChanged: what the worker did, or 'external' for another tool's change. */
  | DisksChangedParams['reason']
  /** The worker died: its session disks may be gone. */
  | 'worker-crashed'
  /** A command asked (Refresh, Restart Worker, or our own attach/detach/mount finished). */
  | 'command'
  /** The tree became visible with a stale listing. */
  | 'shown'
  /** Someone began to hold an interest in the listing (an inspector opened). */
  | 'interest'
  /** Files an owner watches changed on disk. */
  | 'files';

/** Where disk changes come from and where the listing shows besides the tree. */
export interface RefreshSources {
  /** The worker client: its 'disksChanged' and 'crash' events. */
  events: { on(event: string, listener: (...args: any[]) => void): unknown; off(event: string, listener: (...args: any[]) => void): unknown };
  /** The disks now, when the tree is hidden (one vdisk/list). */
  list(): Promise<AttachedDisk[]>;
  /** The status bar. */
  status: { update(disks: AttachedDisk[]): void };
  /** The `vdisk.attachedImages` context key's value (the Explorer's Detach entry); default: the image paths. */
  attachedImages?: (disks: AttachedDisk[]) => string[];
}

const FILE_DELAY_MS = 250;   // writes come in bursts
/** Reasons that come from a running worker's vdisk/disksChanged. */
const WORKER_CHANGES = new Set<RefreshReason>(['attach', 'detach', 'mount', 'unmount', 'external']);

export interface Timers { set(fn: () => void, ms: number): NodeJS.Timeout; clear(t: NodeJS.Timeout | undefined): void }

export class Refresher implements vscode.Disposable {
  private timer: NodeJS.Timeout | undefined;
  private pending: RefreshReason | undefined;
  private stale = false;
  private running: Promise<void> | undefined;
  private again = false;
  private interested = 0;
  private readonly fileTimers = new Map<string, NodeJS.Timeout>();
  private readonly disposables: vscode.Disposable[] = [];
  /** The reason of the last refresh that ran (for the log and tests). */
  lastReason: RefreshReason | undefined;

  /**
   * @param reload reloads and repaints the tree; the listing it returns (`{ disks }`) also goes to the status bar
   * and the context key.
   */
  constructor(
    private readonly reload: () => Promise<unknown>,
    private readonly isVisible: () => boolean,
    onDidChangeVisibility: vscode.Event<unknown>,
    private readonly delayMs = 150,
    /** The debounce timers; tests pass their own to step time instead of sleeping. */
    private readonly timers: Timers = { set: (fn, ms) => setTimeout(fn, ms), clear: (t) => clearTimeout(t) },
    private readonly sources?: RefreshSources,
  ) {
    this.disposables.push(onDidChangeVisibility(() => { if (this.isVisible() && this.stale) this.request('shown'); }));
    if (sources) {
      const changed = (p: DisksChangedParams) => this.request(p.reason);
      const crashed = () => this.request('worker-crashed');
      sources.events.on('disksChanged', changed);
      sources.events.on('crash', crashed);
      this.disposables.push({ dispose: () => { sources.events.off('disksChanged', changed); sources.events.off('crash', crashed); } });
    }
  }

  /** Something may have changed: refresh soon (one refresh per burst). */
  request(reason: RefreshReason = 'command'): void {
    this.pending = reason;
    if (!this.wanted() && !this.sources) { this.stale = true; return; }
    this.timers.clear(this.timer);
    this.timer = this.timers.set(() => void this.fire(), this.delayMs);
  }

  /** Reload right away (the Refresh command, and after our own attach/detach); resolves when painted. */
  async now(reason: RefreshReason = 'command'): Promise<void> {
    this.timers.clear(this.timer);
    this.stale = false;
    this.lastReason = reason;
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      do {
        this.again = false;
        const snapshot = await this.reload();
        if (snapshot && typeof snapshot === 'object' && 'disks' in snapshot) await this.show((snapshot as { disks: AttachedDisk[] }).disks);
      } while (this.again);
    })().finally(() => { this.running = undefined; });
    return this.running;
  }

  /**
   * While held, disk changes reload the listing even with the tree hidden (an inspector's Attach/Detach buttons
   * follow it). Taking it reloads at once.
   */
  holdInterest(): vscode.Disposable {
    this.interested++;
    void this.now('interest');
    let held = true;
    return { dispose: () => { if (held) { held = false; this.interested--; } } };
  }

  /** Files `owner` watches changed: `refresh` runs once per burst, `FILE_DELAY_MS` after the last event. */
  filesChanged(owner: string, refresh: (reason: 'files') => void): void {
    this.timers.clear(this.fileTimers.get(owner));
    this.fileTimers.set(owner, this.timers.set(() => { this.fileTimers.delete(owner); this.lastReason = 'files'; refresh('files'); }, FILE_DELAY_MS));
  }

  /** Forgets `owner`'s pending file refresh (it closed). */
  forget(owner: string): void {
    this.timers.clear(this.fileTimers.get(owner));
    this.fileTimers.delete(owner);
  }

  dispose(): void {
    this.timers.clear(this.timer);
    for (const t of this.fileTimers.values()) this.timers.clear(t);
    this.fileTimers.clear();
    for (const d of this.disposables) d.dispose();
  }

  private wanted(): boolean { return this.isVisible() || this.interested > 0; }

  private async fire(): Promise<void> {
    const reason = this.pending ?? 'command';
    this.pending = undefined;
    if (this.wanted()) return this.now(reason);
    // hidden, nobody interested: the tree reloads when shown; the status bar and the context key follow the worker's
    // own disk events (it runs then), while nothing else starts a worker just for them (a crash, a command)
    this.stale = true;
    this.lastReason = reason;
    if (!this.sources || !WORKER_CHANGES.has(reason)) return;
    try { await this.show(await this.sources.list()); } catch { /* the worker is down: the next event tries again */ }
  }

  private async show(disks: AttachedDisk[]): Promise<void> {
    if (!this.sources) return;
    this.sources.status.update(disks);
    const images = this.sources.attachedImages?.(disks) ?? disks.flatMap((d) => (d.image ? [d.image] : []));
    await vscode.commands.executeCommand('setContext', 'vdisk.attachedImages', images);
  }
}
