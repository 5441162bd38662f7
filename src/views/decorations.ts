// Explorer badges on image files: "RO"/"RW" while attached (read-only / read-write), "B" while browsed
// (the "Browse Disk Image" provider calls markBrowsed/unmarkBrowsed). Updated with every listing of the disks.
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

  /** An image is open for browsing (no attach): badge it until unmarkBrowsed. */
  markBrowsed(uri: vscode.Uri): void { this.browsed.add(uri.fsPath); this.changed.fire([uri]); }

  unmarkBrowsed(uri: vscode.Uri): void { if (this.browsed.delete(uri.fsPath)) this.changed.fire([uri]); }

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
