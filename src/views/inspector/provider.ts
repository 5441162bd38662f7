// The image inspector: a read-only custom editor for disk images. The facts come from the worker (Inspect), never
// from reading the file here; opening never attaches or changes anything. Buttons run the ordinary commands with
// the document's Uri. The state lives here (not in the page) so tests can observe it and drive it. One image's state:
// session.ts; what the buttons run and say: actions.ts.
import * as path from 'path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import { ErrorCode, Inspect, type AttachedDisk } from '../../common/protocol';
import type { WorkerClient } from '../../host/worker-client';
import type { AttachedDisksProvider } from '../attached-disks';
import { COMMAND_OF, hintFor, LABEL_OF, outcome } from './actions';
import { InspectorAssets, inspectorHtml, loadAssets } from './html';
import { ActionId, FromWebview, InspectorModel, parseFromWebview, ToWebview } from './messages';
import { attachmentsOf, buildReadyModel } from './model';
import { InspectorDocument, InspectorExtras, InspectorTimings, Session } from './session';
import { ImageWatcher } from './watcher';

import { INSPECTOR_OPTIONS, INSPECTOR_VIEW_TYPE } from '../names';

export { INSPECTOR_VIEW_TYPE };
export type { InspectorExtras, InspectorTimings };

export class InspectorProvider implements vscode.CustomReadonlyEditorProvider<InspectorDocument>, vscode.Disposable {
  private readonly sessions = new Map<string, Session>();
  private readonly rendered = new vscode.EventEmitter<{ uri: vscode.Uri; model: InspectorModel }>();
  private readonly paintedEmitter = new vscode.EventEmitter<{ uri: vscode.Uri; revision: number; state: InspectorModel['state'] }>();
  /** A model was sent to the page(s) of an image. */
  readonly onDidRender = this.rendered.event;
  /** A page reported that it drew a model. */
  readonly onDidPaint = this.paintedEmitter.event;
  private readonly disposables: vscode.Disposable[] = [this.rendered, this.paintedEmitter];
  private revision = 0;
  private assets: Promise<InspectorAssets> | undefined;
  /** Held while any inspector is open: the listing then follows disk changes even with the tree hidden. */
  private interest: vscode.Disposable | undefined;

  constructor(private readonly extensionRoot: vscode.Uri, private readonly client: WorkerClient,
    private readonly disks: AttachedDisksProvider, private readonly extras: InspectorExtras) {
    this.disposables.push(
      disks.onDidChangeTreeData(() => { for (const s of this.sessions.values()) if (s.info) this.render(s); }),
      ...(extras.recent?.onDidChangeTreeData ? [extras.recent.onDidChangeTreeData(() => {
        for (const s of this.sessions.values()) if (s.info) void this.loadUsers(s).then(() => this.render(s));
      })] : []),
      vscode.workspace.onDidGrantWorkspaceTrust(() => { for (const s of this.sessions.values()) if (s.info) this.render(s); }),
    );
  }

  openCustomDocument(uri: vscode.Uri): InspectorDocument {
    const key = uri.toString();
    if (!this.sessions.has(key)) {
      const s: Session = {
        uri, file: uri.fsPath, panels: new Set(), recentChildren: [], inspectMs: 0, busy: null, status: '', failures: 0, openedAt: performance.now(), timings: {},
        model: { state: 'loading', revision: ++this.revision, path: uri.fsPath, name: path.basename(uri.fsPath) },
        watcher: new ImageWatcher(() => this.extras.refresher.filesChanged(key, () => {
          const open = this.sessions.get(key);
          if (open) void this.load(open, 'Reloaded: the image or a file of its chain changed on disk.');
        })),
      };
      this.sessions.set(key, s);
      this.assets ??= loadAssets(this.extensionRoot);
      void this.load(s, '');   // starts before the webview exists: the page usually gets facts, not a spinner
      // its Attach/Detach buttons follow the listing, also other tools' changes with the tree hidden (reloads now)
      if (this.interest) void this.extras.refresher.now('interest'); else this.interest = this.extras.refresher.holdInterest();
    }
    return new InspectorDocument(uri, () => this.close(key));
  }

  async resolveCustomEditor(doc: InspectorDocument, panel: vscode.WebviewPanel): Promise<void> {
    const s = this.sessions.get(doc.uri.toString());
    if (!s) throw new Error(`vdisk inspector: no session for ${doc.uri.toString()}`);
    this.assets ??= loadAssets(this.extensionRoot);
    const assets = await this.assets;
    panel.webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: [] };
    panel.webview.html = inspectorHtml(assets, path.basename(s.file), s.model);
    s.panels.add(panel);
    s.timings.resolvedMs ??= performance.now() - s.openedAt;
    panel.webview.onDidReceiveMessage((raw) => {
      const m = parseFromWebview(raw);
      if (m) void this.handle(s, m, panel);
    });
    panel.onDidDispose(() => s.panels.delete(panel));
  }

  /** The last model sent to the page(s) of `uri`. */
  lastRendered(uri: vscode.Uri): InspectorModel | undefined {
    return this.sessions.get(uri.toString())?.model;
  }

  /** What the page last reported as drawn. */
  lastPainted(uri: vscode.Uri): { revision: number; state: InspectorModel['state'] } | undefined {
    return this.sessions.get(uri.toString())?.painted;
  }

  /** Milliseconds from openCustomDocument to the first facts sent and drawn. */
  timings(uri: vscode.Uri): InspectorTimings | undefined {
    return this.sessions.get(uri.toString())?.timings;
  }

  /** Handles a message as if the page had sent it (tests); resolves when its action is done. */
  async simulate(uri: vscode.Uri, message: FromWebview): Promise<void> {
    const s = this.sessions.get(uri.toString());
    if (!s) throw new Error(`vdisk inspector: ${uri.toString()} is not open`);
    await this.handle(s, message);
  }

  /** Inspects the file again (the Retry button). */
  reload(uri: vscode.Uri): Promise<void> {
    const s = this.sessions.get(uri.toString());
    if (!s) throw new Error(`vdisk inspector: ${uri.toString()} is not open`);
    return this.load(s, 'Reloaded.');
  }

  private async handle(s: Session, m: FromWebview, panel?: vscode.WebviewPanel): Promise<void> {
    switch (m.type) {
      case 'ready':
        if (s.timings.pageReadyMs === undefined) {
          s.timings.pageReadyMs = performance.now() - s.openedAt;
          s.timings.pageLoadMs = m.loadMs;
        }
        if (panel) this.post(panel, s.model);
        return;
      case 'rendered':
        s.painted = { revision: m.revision, state: m.state };
        s.timings.firstPaint ??= m.state;
        if (m.state === 'ready' && s.timings.factsPaintedMs === undefined) s.timings.factsPaintedMs = performance.now() - s.openedAt;
        this.paintedEmitter.fire({ uri: s.uri, revision: m.revision, state: m.state });
        return;
      case 'retry':
        return this.load(s, 'Reloaded.');
      case 'action':
        return this.runAction(s, m.action);
      case 'openLayer': {
        const layer = s.model.state === 'ready' ? s.model.chain[m.level] : undefined;
        if (layer?.path && m.level > 0) await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(layer.path), INSPECTOR_VIEW_TYPE);
        return;
      }
    }
  }

  private async load(s: Session, status: string): Promise<void> {
    s.loading?.cancel();
    const cts = s.loading = new vscode.CancellationTokenSource();
    if (!s.info) this.setModel(s, { state: 'loading', revision: ++this.revision, path: s.file, name: path.basename(s.file) });
    if (s.uri.scheme !== 'file') {   // e.g. a .vhd in a git diff: the worker reads local files only
      this.setModel(s, { state: 'error', revision: ++this.revision, path: s.uri.toString(), name: path.basename(s.uri.path),
        message: `${s.uri.toString()} is not a local file: the inspector reads images on the machine the extension runs on.`,
        code: null, hint: 'Open the image from the Explorer of a local or remote folder.', attempts: ++s.failures });
      return;
    }
    const t0 = performance.now();
    try {
      const info = await this.client.request(Inspect, { path: s.file }, cts.token);
      if (cts.token.isCancellationRequested || !this.sessions.has(s.uri.toString())) return;
      if (!s.info) void this.extras.recent?.add(info.path).catch(() => undefined);
      s.info = info;
      s.failures = 0;
      s.inspectMs = Math.round(performance.now() - t0);
      s.timings.inspectMs ??= s.inspectMs;
      s.status = status;
      const lookedAt = info.problems.flatMap((p) => (p.tried ?? []).map((t) => t.path));
      s.watcher.watch([s.file, info.path, ...info.chain.map((c) => c.path), ...lookedAt], info.problems.some((p) => p.code.startsWith('parent-')));
      await this.loadUsers(s);
      this.render(s);
    } catch (e) {
      if (cts.token.isCancellationRequested || !this.sessions.has(s.uri.toString())) return;
      if (e instanceof ResponseError && e.code === ErrorCode.Cancelled) return;
      s.info = undefined;
      s.watcher.watch([s.file], false);   // a file that appears again is inspected again
      const code = e instanceof ResponseError ? e.code : null;
      this.setModel(s, { state: 'error', revision: ++this.revision, path: s.file, name: path.basename(s.file),
        message: e instanceof Error ? e.message : String(e), code, hint: hintFor(code), attempts: ++s.failures });
    } finally {
      if (s.loading === cts) s.loading = undefined;
      cts.dispose();
    }
  }

  private async loadUsers(s: Session): Promise<void> {
    s.recentChildren = await this.extras.recent?.childrenOf?.(s.file).catch(() => []) ?? [];
  }

  private render(s: Session): void {
    if (!s.info) return;
    const disks = this.disks.disks as readonly AttachedDisk[];
    // a line about an earlier attach or detach must not outlive it: say what changed instead
    const now = attachmentsOf(s.info.path, disks);
    const key = JSON.stringify(now.map((x) => [x.device, x.access]));
    if (s.busy === null && s.statusFor !== undefined && s.statusFor !== key) {
      s.status = now.length ? `Attached as ${now.map((x) => `${x.device} (${x.access})`).join(', ')}.` : 'Not attached (it was detached).';
    }
    s.statusFor = key;
    const model = buildReadyModel(s.info, disks, {
      revision: ++this.revision, trusted: vscode.workspace.isTrusted, caps: this.extras.caps?.(),
      busy: s.busy, status: s.status, inspectMs: s.inspectMs, recentChildren: s.recentChildren,
    });
    if (s.timings.factsPostedMs === undefined) s.timings.factsPostedMs = performance.now() - s.openedAt;
    this.setModel(s, model);
  }

  private setModel(s: Session, model: InspectorModel): void {
    s.model = model;
    for (const p of s.panels) this.post(p, model);
    this.rendered.fire({ uri: s.uri, model });
  }

  private post(panel: vscode.WebviewPanel, model: InspectorModel): void {
    const msg: ToWebview = { type: 'render', model };
    void panel.webview.postMessage(msg);
  }

  private async runAction(s: Session, action: ActionId): Promise<void> {
    const label = LABEL_OF[action];
    if (action === 'inspectText') {
      await vscode.commands.executeCommand(COMMAND_OF[action], s.uri);
      return;
    }
    if (s.busy) return;
    const enabled = s.model.state === 'ready' && s.model.actions.find((a) => a.id === action)?.enabled;
    if (!enabled) { s.status = `${label} is not available now.`; this.render(s); return; }
    s.busy = action;
    s.status = `${label}…`;
    this.render(s);
    try {
      const result = await vscode.commands.executeCommand<unknown>(COMMAND_OF[action], s.uri);
      s.status = outcome(action, result);
    } catch (e) {
      // e.g. the command is not registered: nothing ran, so say so here and in a notification
      const msg = e instanceof Error ? e.message : String(e);
      s.status = `${label} failed: ${msg}`;
      void vscode.window.showErrorMessage(`${label} failed: ${msg}`);
    } finally {
      s.busy = null;
      s.statusFor = undefined;   // the outcome line describes the new state: keep it
      this.render(s);
    }
  }

  /** Disposed with the provider. */
  own(d: vscode.Disposable): void { this.disposables.push(d); }

  private close(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    s.loading?.cancel();
    s.watcher.dispose();
    this.extras.refresher.forget(key);
    this.sessions.delete(key);
    if (!this.sessions.size) { this.interest?.dispose(); this.interest = undefined; }
  }

  dispose(): void {
    for (const key of [...this.sessions.keys()]) this.close(key);
    for (const d of this.disposables) d.dispose();
  }
}

/**
 * Registers the inspector. The provider owns the registration: push it to context.subscriptions. It is also the
 * test hook (VdiskApi.inspector).
 */
export function registerInspector(context: vscode.ExtensionContext, client: WorkerClient, disks: AttachedDisksProvider,
  extras: InspectorExtras): InspectorProvider {
  const provider = new InspectorProvider(context.extensionUri, client, disks, extras);
  provider.own(vscode.window.registerCustomEditorProvider(INSPECTOR_VIEW_TYPE, provider, INSPECTOR_OPTIONS));
  return provider;
}
