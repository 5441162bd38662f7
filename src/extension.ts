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
import { List } from './common/protocol';

/** What the extension hands to tests (and to other extensions): no stability promise. */
export interface VdiskApi {
  client: WorkerClient;
  disks: AttachedDisksProvider;
  disksView: vscode.TreeView<unknown>;
  refresher: Refresher;
  onDidShowError: vscode.Event<{ command: string; message: string; actions: string[] }>;
}

let client: WorkerClient | undefined;

export function activate(context: vscode.ExtensionContext): VdiskApi {
  const { channel: log, logger } = createLog();
  client = new WorkerClient({ workerPath: path.join(context.extensionPath, 'dist', 'worker.js'), client: 'vscode', log: logger, watch: true });
  const disks = new AttachedDisksProvider(() => client!.request(List));
  const disksView = vscode.window.createTreeView('vdisk.attachedDisks', { treeDataProvider: disks, showCollapseAll: true, canSelectMany: false });
  const refresher = new Refresher(async () => {
    const snapshot = await disks.reload();
    const images = 'disks' in snapshot ? snapshot.disks.flatMap((d) => (d.image ? [d.image] : [])) : [];
    await vscode.commands.executeCommand('setContext', 'vdisk.attachedImages', images);
  }, () => disksView.visible, disksView.onDidChangeVisibility);

  client.on('disksChanged', () => refresher.request());
  client.on('crash', (e: { restartable: boolean }) => {
    refresher.request();
    if (!e.restartable) {
      void vscode.window.showErrorMessage('The Virtual Disks worker keeps crashing and was stopped.', 'Restart Worker', 'Show Log').then((pick) => {
        if (pick === 'Restart Worker') void vscode.commands.executeCommand('vdisk.restartWorker');
        if (pick === 'Show Log') log.show(true);
      });
    }
  });

  void vscode.commands.executeCommand('setContext', 'vdisk.linuxFormats', process.platform === 'linux');
  context.subscriptions.push(
    log, disksView, refresher, shownErrors,
    vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, new ReportProvider(client)),
    ...registerCommands({ client, log, disks, refresher }),
    { dispose: () => void client?.dispose() },
  );
  return { client, disks, disksView: disksView as vscode.TreeView<unknown>, refresher, onDidShowError: shownErrors.event };
}

export async function deactivate(): Promise<void> {
  await client?.dispose();
  client = undefined;
}
