// The extension's body, loaded on first use by the activation (src/extension.ts, its own small bundle): the worker
// client, the views' providers, the commands' implementations. It starts no process: the worker starts on first need.
import * as path from 'path';
import * as vscode from 'vscode';
import { WorkerClient } from './host/worker-client';
import { createLog } from './host/log';
import { shownErrors } from './host/run-command';
import { registerCommands } from './commands';
import { AttachedDisksProvider } from './views/attached-disks';
import { Refresher } from './views/refresher';
import { ReportProvider } from './views/report-provider';
import { Configure, List } from './common/protocol';
import { whenClauseSpellings } from './common/image-paths';
import * as fs from 'fs';
import { config } from './host/config';
import { DiskCountStatus } from './views/status-bar';
import { RecentImagesProvider } from './views/recent-images';
import { WslDisksProvider } from './views/wsl-disks';
import { InspectorProvider } from './views/inspector/provider';
import { ImageDecorations } from './views/decorations';
import { shownInfos, askedQuestions } from './host/notify';
import { CapabilityStore } from './host/capabilities';
import { browsedImages, ImageFileSystem } from './views/image-fs';
import type { DiskTreeNode } from './views/attached-disks';
import type { RecentNode } from './views/recent-images';

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
  /** The "WSL and Docker Disks" section. */
  wsl: WslDisksProvider;
}

/** What the activation made before the core loaded: the tree views (their providers forward to the core's). */
export interface Shell {
  disksView: vscode.TreeView<DiskTreeNode>;
  recentView: vscode.TreeView<RecentNode>;
}

/** The loaded core: the API, the command bodies by id, and the providers the activation's stand-ins forward to. */
export interface Core {
  api: VdiskApi;
  run(id: string, args: unknown[]): unknown;
  imageFs: ImageFileSystem;
  report: ReportProvider;
  deactivate(): Promise<void>;
}

export function activateCore(context: vscode.ExtensionContext, { disksView, recentView }: Shell): Core {
  const { channel: log, logger } = createLog();
  const client = new WorkerClient({
    workerPath: path.join(context.extensionPath, 'dist', 'worker.js'), client: 'vscode', log: logger, watch: true, settings: () => config.worker(),
    // V8's code cache of the worker bundle (src/worker/boot.ts)
    env: context.globalStorageUri ? { VDISK_CODE_CACHE: path.join(context.globalStorageUri.fsPath, 'code-cache') } : undefined,
  });
  const disks = new AttachedDisksProvider(() => client.request(List));
  const recent = new RecentImagesProvider(context.workspaceState, client);
  const wsl = new WslDisksProvider(client);
  const status = new DiskCountStatus();
  const decorations = new ImageDecorations();
  const syncBrowsed = () => decorations.setBrowsed(browsedImages(vscode.workspace.workspaceFolders ?? []));
  syncBrowsed();
  context.subscriptions.push(vscode.workspace.onDidChangeWorkspaceFolders(syncBrowsed));
  // the refresher subscribes to the worker's disksChanged and crash events itself; every listing also goes to the
  // status bar and the Explorer's decorations
  const refresher = new Refresher(() => disks.reload(), () => disksView.visible, disksView.onDidChangeVisibility, 150, undefined, {
    events: client, list: () => client.request(List),
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
  const inspector = new InspectorProvider(context.extensionUri, client, disks, { refresher, recent, caps: () => caps.current });
  const configured = new vscode.EventEmitter<Error | undefined>();
  const handlers = new Map<string, (...args: unknown[]) => unknown>();
  const report = new ReportProvider(client, () => client.request(List));
  context.subscriptions.push(
    log, refresher, shownErrors, shownInfos, askedQuestions, status, decorations, inspector, caps, configured, wsl,
    vscode.workspace.onDidChangeConfiguration((e) => {
      // a running worker takes new settings at once; a stopped one reads them when it starts
      if (config.affectsWorker(e) && client.state === 'running') {
        void client.request(Configure, config.worker()).then(() => configured.fire(undefined),
          (err: Error) => { log.error(`settings not applied: ${err.message}`); configured.fire(err); });
      }
    }),
    // the activation registered every id already; these bodies are what its registrations run
    ...registerCommands({ client, log, disks, disksView, refresher, recent, caps, wsl }, (id, run) => {
      handlers.set(id, run);
      return new vscode.Disposable(() => handlers.delete(id));
    }),
    { dispose: () => void client.dispose() },
  );
  const api: VdiskApi = { client, disks, disksView: disksView as vscode.TreeView<unknown>, refresher, status, recent, inspector, onDidShowError: shownErrors.event,
    onDidInform: shownInfos.event, onDidAsk: askedQuestions.event, decorations, onDidConfigureWorker: configured.event, caps, wsl };
  return {
    api, imageFs: new ImageFileSystem(client), report,
    run: (id, args) => {
      const run = handlers.get(id);
      if (!run) throw new Error(`command ${id} is declared in package.json but has no body in src/commands/index.ts`);
      return run(...args);
    },
    deactivate: () => client.dispose(),
  };
}

/** The file's own spelling on Windows (realpathSync.native asks the file system), or undefined. */
function onDiskSpelling(p: string): string | undefined {
  if (process.platform !== 'win32') return undefined;
  try { return fs.realpathSync.native(p); } catch { return undefined; }
}
