// Tells its owner when the image or a file of its chain changes, and on any change next to a chain whose parent is
// missing (the user may be copying it back; a quick delete + create can also arrive as one 'change'). One
// non-recursive watcher per folder; events are filtered by path here rather than by glob, so file names with glob
// characters ([, {, *) need no escaping. Every event is passed on: the Refresher debounces the bursts.
import * as path from 'path';
import * as vscode from 'vscode';

export class ImageWatcher implements vscode.Disposable {
  private watchers = new Map<string, vscode.Disposable>();
  private files = new Set<string>();
  private parentMissing = false;

  constructor(private readonly onChange: () => void) {}

  /** Watches these files (the chain, and where a missing parent was looked for); with `parentMissing`, their whole folders. */
  watch(files: string[], parentMissing: boolean): void {
    this.files = new Set(files);
    this.parentMissing = parentMissing;
    const dirs = new Set(files.map((f) => path.dirname(f)));
    for (const [dir, w] of this.watchers) if (!dirs.has(dir)) { w.dispose(); this.watchers.delete(dir); }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '*'));
      const sub = vscode.Disposable.from(w, w.onDidChange((u) => this.event(u)), w.onDidDelete((u) => this.event(u)), w.onDidCreate((u) => this.event(u)));
      this.watchers.set(dir, sub);
    }
  }

  private event(uri: vscode.Uri): void {
    if (!this.files.has(uri.fsPath) && !this.parentMissing) return;
    this.onChange();
  }

  dispose(): void {
    for (const w of this.watchers.values()) w.dispose();
    this.watchers.clear();
  }
}
