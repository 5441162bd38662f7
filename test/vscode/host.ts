// What the extension-host suites of the commands and the Attached Disks tree share: the activated extension, the
// test workspace, the tree's roots after a refresh, our disks, the next error notification.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { DiskTreeNode } from '../../src/views/attached-disks';
import type { AttachedDisk } from '../../src/common/protocol';

export const EXT_ID = 'vdisk.vdisk';

export async function api(): Promise<VdiskApi> {
  const ext = vscode.extensions.getExtension<VdiskApi>(EXT_ID);
  assert.ok(ext, `${EXT_ID} is not installed`);
  return ext.activate();
}

export function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'the test workspace has a folder');
  return f.uri.fsPath;
}

export async function roots(a: VdiskApi): Promise<DiskTreeNode[]> {
  await a.refresher.now();
  return a.disks.getChildren();
}

/** Disks attached from images under `dir`. */
export function oursUnder(a: VdiskApi, dir: string): AttachedDisk[] {
  return a.disks.disks.filter((d) => d.image?.startsWith(dir + path.sep));
}

export function nextError(a: VdiskApi): Promise<{ command: string; message: string; actions: string[] }> {
  return new Promise((resolve) => { const d = a.onDidShowError((e) => { d.dispose(); resolve(e); }); });
}
