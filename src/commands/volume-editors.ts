// Editors showing files of a mounted volume: counted before a detach asks, closed before the volume goes.
import * as vscode from 'vscode';
import type { AttachedDisk } from '../common/protocol';

function under(uri: vscode.Uri, mountPoint: string): boolean {
  return (uri.scheme === 'file' || uri.scheme === 'vdisk-volume') && (uri.path === mountPoint || uri.path.startsWith(`${mountPoint}/`));
}

function tabUri(tab: vscode.Tab): vscode.Uri | undefined {
  const input = tab.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputNotebook) return input.uri;
  if (input instanceof vscode.TabInputTextDiff) return input.modified;
  return undefined;
}

export function mountPointsOf(disk: AttachedDisk): string[] {
  return (disk.volumes ?? []).flatMap((v) => (v.mountPoint ? [v.mountPoint.replace(/\\/g, '/')] : []));
}

/** Open editor tabs on files inside these mount points. */
export function tabsUnder(mountPoints: string[]): vscode.Tab[] {
  if (!mountPoints.length) return [];
  return vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => {
    const u = tabUri(t);
    return u !== undefined && mountPoints.some((m) => under(u, m));
  });
}

/** Closes the editors of files on these volumes (their files are about to disappear). */
export async function closeEditorsUnder(mountPoints: string[]): Promise<number> {
  const tabs = tabsUnder(mountPoints);
  if (tabs.length) await vscode.window.tabGroups.close(tabs, true);
  return tabs.length;
}
