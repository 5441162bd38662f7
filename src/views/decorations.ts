// Explorer badges on image files: "RO"/"RW" while attached (read-only / read-write), "B" while browsed (its files
// are a `vdisk-image:` workspace folder of this window). Updated with every listing of the disks and folder change.
import * as vscode from 'vscode';
import type { AttachedDisk } from '../common/protocol';

export class ImageDecorations implements vscode.FileDecorationProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri[]>();
  readonly onDidChangeFileDecorations = this.changed.event;
  private attached = new Map<string, AttachedDisk[]>();
  private readonly browsed = new Set<string>();
  private readonly registration = vscode.window.registerFileDecorationProvider(this);

  /** The attached disks changed: repaint the files that gained or lost a badge. */
  update(disks: readonly AttachedDisk[]): void {
    const next = new Map<string, AttachedDisk[]>();
    for (const d of disks) if (d.image) next.set(d.image, [...(next.get(d.image) ?? []), d]);
    const touched = new Set([...this.attached.keys(), ...next.keys()]);
    this.attached = next;
    if (touched.size) this.changed.fire([...touched].map((p) => vscode.Uri.file(p)));
  }

  /** The images open for browsing (their files are workspace folders): repaint those that gained or lost the badge. */
  setBrowsed(images: readonly string[]): void {
    const next = new Set(images);
    const touched = [...this.browsed, ...next].filter((p) => this.browsed.has(p) !== next.has(p));
    this.browsed.clear();
    for (const p of next) this.browsed.add(p);
    if (touched.length) this.changed.fire(touched.map((p) => vscode.Uri.file(p)));
  }

  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== 'file') return undefined;
    const disks = this.attached.get(uri.fsPath);
    if (disks?.length) {
      const rw = disks.some((d) => !d.readOnly);
      return new vscode.FileDecoration(rw ? 'RW' : 'RO',
        `Attached ${disks.map((d) => `${d.readOnly ? 'read-only' : 'read-write'} as ${d.device}`).join(', ')}`,
        new vscode.ThemeColor(rw ? 'charts.orange' : 'charts.blue'));
    }
    if (this.browsed.has(uri.fsPath)) return new vscode.FileDecoration('B', 'Open for browsing (not attached)');
    return undefined;
  }

  dispose(): void { this.registration.dispose(); this.changed.dispose(); }
}
