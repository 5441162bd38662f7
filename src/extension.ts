// Extension host entry. Activation wires things up and starts no process: the worker starts on first need.
import * as path from 'path';
import * as vscode from 'vscode';
import { WorkerClient } from './host/worker-client';
import { createLog } from './host/log';
import { shownErrors } from './host/run-command';
import { registerCommands } from './commands';
import { AttachedDisksProvider } from './views/attached-disks';
import { Refresher } from './views/refresher';
import { REPORT_SCHEME, ReportProvider } from './views/report-provider';
import { Configure, List } from './common/protocol';
import { whenClauseSpellings } from './common/image-paths';
import * as fs from 'fs';
import { config } from './host/config';
import { DiskCountStatus } from './views/status-bar';
import { RecentImagesProvider } from './views/recent-images';
import { InspectorProvider, registerInspector } from './views/inspector/provider';
import { ImageDecorations } from './views/decorations';
import { registerVolumeFs } from './views/volume-fs';
import { shownInfos, askedQuestions } from './host/notify';
import { CapabilityStore } from './host/capabilities';
import { browsedImages, registerImageFileSystem } from './views/image-fs';

/** What the extension hands to tests (and to other extensions): no stability promise. */
export interface VdiskApi {
  client: WorkerClient;
  disks: AttachedDisksProvider;
  disksView: vscode.TreeView<unknown>;
  refresher: Refresher;
  status: DiskCountStatus;
  recent: RecentImagesProvider;
  inspector: InspectorProvider;
  onDidShowError: vscode.Event<{ command: string; message: string; actions: string[] }>;
  caps: CapabilityStore;
  /** Successes shown as notifications, and modal questions asked (neither is observable through the API). */
  onDidInform: vscode.Event<{ message: string }>;
  onDidAsk: vscode.Event<{ message: string; detail: string; confirm: string }>;
  /** Explorer badges: attached images, and images whose files are open as workspace folders. */
  decorations: ImageDecorations;
  /** Fires once a settings change reached a running worker (vdisk/configure answered), with the error if it failed. */
  onDidConfigureWorker: vscode.Event<Error | undefined>;
}

let client: WorkerClient | undefined;

export function activate(context: vscode.ExtensionContext): VdiskApi {
  const { channel: log, logger } = createLog();
  client = new WorkerClient({
    workerPath: path.join(context.extensionPath, 'dist', 'worker.js'), client: 'vscode', log: logger, watch: true, settings: () => config.worker(),
  });
  const disks = new AttachedDisksProvider(() => client!.request(List));
  const disksView = vscode.window.createTreeView('vdisk.attachedDisks', { treeDataProvider: disks, showCollapseAll: true, canSelectMany: false });
  const recent = new RecentImagesProvider(context.workspaceState, client);
  const recentView = vscode.window.createTreeView('vdisk.recentImages', { treeDataProvider: recent, showCollapseAll: true });
  const status = new DiskCountStatus();
  const decorations = new ImageDecorations();
  const syncBrowsed = () => decorations.setBrowsed(browsedImages(vscode.workspace.workspaceFolders ?? []));
  syncBrowsed();
  context.subscriptions.push(vscode.workspace.onDidChangeWorkspaceFolders(syncBrowsed));
  // the refresher subscribes to the worker's disksChanged and crash events itself; every listing also goes to the
  // status bar and the Explorer's decorations
  const refresher = new Refresher(() => disks.reload(), () => disksView.visible, disksView.onDidChangeVisibility, 150, undefined, {
    events: client, list: () => client!.request(List),
    status: { update: (list) => { status.update(list); decorations.update(list); } },
    // every spelling Explorer's resourcePath may have on Windows (drive letter case, the file's own case)
    attachedImages: (list) => list.flatMap((d) => (d.image ? whenClauseSpellings(d.image, process.platform, onDiskSpelling(d.image)) : [])),
  });

  client.on('crash', (e) => {
    if (!e.restartable) {
      void vscode.window.showErrorMessage('The Virtual Disks worker keeps crashing and was stopped.', 'Restart Worker', 'Show Log').then((pick) => {
        if (pick === 'Restart Worker') void vscode.commands.executeCommand('vdisk.restartWorker');
        if (pick === 'Show Log') log.show(true);
      });
    } else if (e.elevated) {
      // its session disks went with it; the next action uses an unelevated worker until the user elevates again
      void vscode.window.showWarningMessage(`The elevated Virtual Disks worker ended (${e.how}); disks it attached for this session were released.`, 'Show Log')
        .then((pick) => { if (pick === 'Show Log') log.show(true); });
    }
  });

  // menus, palette, welcome views, inspector buttons and error actions follow the worker's capability report
  const caps = new CapabilityStore(context.globalState, client);
  const inspector = registerInspector(context, client, disks, { refresher, recent, caps: () => caps.current });
  const configured = new vscode.EventEmitter<Error | undefined>();
  context.subscriptions.push(
    log, disksView, recentView, refresher, shownErrors, shownInfos, askedQuestions, status, decorations, inspector, caps, configured,
    vscode.workspace.onDidChangeConfiguration((e) => {
      // a running worker takes new settings at once; a stopped one reads them when it starts
      if (config.affectsWorker(e) && client?.state === 'running') {
        void client.request(Configure, config.worker()).then(() => configured.fire(undefined),
          (err: Error) => { log.error(`settings not applied: ${err.message}`); configured.fire(err); });
      }
    }),
    registerVolumeFs(),
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, new ReportProvider(client, () => client!.request(List))),
    registerImageFileSystem(client),
    ...registerCommands({ client, log, disks, disksView, refresher, recent, caps }),
    { dispose: () => void client?.dispose() },
  );
  return { client, disks, disksView: disksView as vscode.TreeView<unknown>, refresher, status, recent, inspector, onDidShowError: shownErrors.event,
    onDidInform: shownInfos.event, onDidAsk: askedQuestions.event, decorations, onDidConfigureWorker: configured.event, caps };
}

export async function deactivate(): Promise<void> {
  await client?.dispose();
  client = undefined;
}

/** The file's own spelling on Windows (realpathSync.native asks the file system), or undefined. */
function onDiskSpelling(p: string): string | undefined {
  if (process.platform !== 'win32') return undefined;
  try { return fs.realpathSync.native(p); } catch { return undefined; }
}
