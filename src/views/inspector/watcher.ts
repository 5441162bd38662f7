// Re-inspects when the image or a file of its chain changes, and when a file appears next to a chain whose
// parent is missing (the user copied it back). One non-recursive watcher per folder; events are filtered by path
// here rather than by glob, so file names with glob characters ([, {, *) need no escaping.
import * as path from 'path';
import * as vscode from 'vscode';

export class ImageWatcher implements vscode.Disposable {
  private watchers = new Map<string, vscode.Disposable>();
  private files = new Set<string>();
  private parentMissing = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onChange: () => void, private readonly delayMs = 250) {}

  /** Watches exactly these files (and, when `parentMissing`, new files in their folders). */
  watch(files: string[], parentMissing: boolean): void {
    this.files = new Set(files);
    this.parentMissing = parentMissing;
    const dirs = new Set(files.map((f) => path.dirname(f)));
    for (const [dir, w] of this.watchers) if (!dirs.has(dir)) { w.dispose(); this.watchers.delete(dir); }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '*'));
      const sub = vscode.Disposable.from(
        w,
        w.onDidChange((u) => this.event(u, false)),
        w.onDidDelete((u) => this.event(u, false)),
        w.onDidCreate((u) => this.event(u, true)),
      );
      this.watchers.set(dir, sub);
    }
  }

  private event(uri: vscode.Uri, created: boolean): void {
    if (!this.files.has(uri.fsPath) && !(created && this.parentMissing)) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onChange, this.delayMs);   // writes come in bursts
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.dispose();
    this.watchers.clear();
  }
}
