// Extension host entry, its own small bundle (dist/extension.js). Activation registers what VS Code must know at
// once (commands, tree views, the inspector, the vdisk-image/-volume/-report providers, the menus' context keys) with
// stand-ins; the body (dist/core.js: worker client, JSON-RPC, views, command implementations) loads on first use:
// a command run, a tree view asking for its items, a file opened in the inspector or a browsed image read.
import * as path from 'path';
import * as vscode from 'vscode';
import type { Core, VdiskApi } from './core';
import type { DiskTreeNode } from './views/attached-disks';
import type { RecentNode } from './views/recent-images';
import type { WslNode } from './views/wsl-disks';
import type { ImageFileSystem } from './views/image-fs';
import type { Capabilities } from './common/protocol';
import { forwarder } from './host/lazy';
import { capabilityContext } from './host/capability-keys';
import { IMAGE_SCHEME, INSPECTOR_OPTIONS, INSPECTOR_VIEW_TYPE, READONLY_MESSAGE, REPORT_SCHEME } from './views/names';
import { registerVolumeFs } from './views/volume-fs';

export type { VdiskApi };

let core: Core | undefined;

const TREE = ['getChildren', 'getParent', 'getTreeItem'] as const;
const FS: (keyof ImageFileSystem & string)[] = ['watch', 'stat', 'readDirectory', 'readFile', 'writeFile', 'createDirectory', 'delete', 'rename'];
/** API members that live in the core: reading one loads it. */
const FROM_CORE = ['client', 'disks', 'refresher', 'status', 'recent', 'inspector', 'onDidShowError', 'caps', 'onDidInform', 'onDidAsk',
  'decorations', 'onDidConfigureWorker', 'wsl'] as const satisfies readonly (keyof VdiskApi)[];

export function activate(context: vscode.ExtensionContext): VdiskApi {
  const load = (): Core => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    core ??= (require(path.join(__dirname, 'core.js')) as typeof import('./core')).activateCore(context, { disksView, recentView });
    return core;
  };
  const disksTree = forwarder<vscode.TreeDataProvider<DiskTreeNode>>(() => load().api.disks, TREE, ['onDidChangeTreeData']);
  const recentTree = forwarder<vscode.TreeDataProvider<RecentNode>>(() => load().api.recent, TREE, ['onDidChangeTreeData']);
  const disksView = vscode.window.createTreeView('vdisk.attachedDisks', { treeDataProvider: disksTree, showCollapseAll: true, canSelectMany: false });
  const recentView = vscode.window.createTreeView('vdisk.recentImages', { treeDataProvider: recentTree, showCollapseAll: true });
  const wslTree = forwarder<vscode.TreeDataProvider<WslNode>>(() => load().api.wsl, TREE, ['onDidChangeTreeData']);
  const wslView = vscode.window.createTreeView('vdisk.wslDisks', { treeDataProvider: wslTree });
  applyCachedCapabilities(context.globalState);
  const commands = (context.extension?.packageJSON ?? require(path.join(context.extensionPath, 'package.json'))) as { contributes: { commands: { command: string }[] } }; // eslint-disable-line @typescript-eslint/no-require-imports
  context.subscriptions.push(
    disksView, recentView, wslView, registerVolumeFs(),
    ...commands.contributes.commands.map(({ command }) => vscode.commands.registerCommand(command, (...args: unknown[]) => load().run(command, args))),
    vscode.window.registerCustomEditorProvider(INSPECTOR_VIEW_TYPE,
      forwarder<vscode.CustomReadonlyEditorProvider>(() => load().api.inspector, ['openCustomDocument', 'resolveCustomEditor']), INSPECTOR_OPTIONS),
    vscode.workspace.registerFileSystemProvider(IMAGE_SCHEME, forwarder<ImageFileSystem>(() => load().imageFs, FS, ['onDidChangeFile']),
      { isCaseSensitive: true, isReadonly: READONLY_MESSAGE }),
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME,
      forwarder<vscode.TextDocumentContentProvider>(() => load().report, ['provideTextDocumentContent'])),
  );
  const api = { disksView: disksView as vscode.TreeView<unknown> } as VdiskApi;
  for (const k of FROM_CORE) Object.defineProperty(api, k, { get: () => load().api[k], enumerable: true });
  return api;
}

export async function deactivate(): Promise<void> {
  await core?.deactivate();
  core = undefined;
}

/**
 * Menus, the palette and welcome views read the worker's last capability report (cached in globalState) as context
 * keys: set them now, before the core (whose CapabilityStore keeps them current) loads.
 */
function applyCachedCapabilities(state: vscode.Memento): void {
  const cached = state.get<Capabilities>('vdisk.capabilities');
  if (!cached || !Array.isArray(cached.kinds)) return;
  for (const [k, v] of Object.entries(capabilityContext(cached))) void vscode.commands.executeCommand('setContext', k, v);
}
