// "$(database) 2" in the status bar while disks are attached; a click opens the Virtual Disks view.
import * as vscode from 'vscode';
import type { AttachedDisk } from '../common/protocol';

export class DiskCountStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('vdisk.status', vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = 'Virtual Disks';
    this.item.command = 'vdisk.attachedDisks.focus';
  }

  get text(): string { return this.item.text; }

  update(disks: AttachedDisk[]): void {
    const n = disks.length;
    if (n === 0) { this.item.hide(); return; }
    const ours = disks.filter((d) => d.ours).length;
    this.item.text = `$(database) ${n}`;
    this.item.tooltip = `${n} virtual disk${n === 1 ? '' : 's'} attached${ours !== n ? ` (${ours} by Virtual Disks)` : ''}. Click to show them.`;
    this.item.accessibilityInformation = { label: `${n} virtual disks attached` };
    this.item.show();
  }

  dispose(): void { this.item.dispose(); }
}
