// The host's copy of the worker's capability report: applied as context keys at activation from the cached answer
// (globalState), then from every worker's vdisk/initialize. Menus, the palette, the inspector's buttons, welcome views
// and error actions read it; nothing on the host decides rules from process.platform.
import * as vscode from 'vscode';
import { Capabilities, GetCapabilities } from '../common/protocol';
import type { WorkerClient } from './worker-client';
import { capabilityContext } from './capability-keys';

const CACHE_KEY = 'vdisk.capabilities';
let latest: Capabilities | undefined;

/** The last answer (cached or fresh), for code without the store at hand (the file picker's filter). */
export function knownCapabilities(): Capabilities | undefined { return latest; }

export class CapabilityStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Capabilities>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly state: vscode.Memento, private readonly client: WorkerClient) {
    const cached = state.get<Capabilities>(CACHE_KEY);
    if (cached && Array.isArray(cached.kinds)) void this.apply(cached, false);
    client.on('initialized', (info) => { if (info.capabilities) void this.apply(info.capabilities, !info.elevated); });
  }

  get current(): Capabilities | undefined { return latest; }

  /** Asks the worker again (tools may have been installed since). */
  async refresh(token?: vscode.CancellationToken): Promise<Capabilities> {
    const c = await this.client.request(GetCapabilities, token);
    await this.apply(c, !c.elevated);
    return c;
  }

  private async apply(c: Capabilities, save: boolean): Promise<void> {
    latest = c;
    // an elevated worker's answer is not cached: the next window starts unelevated
    if (save) await this.state.update(CACHE_KEY, c);
    await Promise.all(Object.entries(capabilityContext(c)).map(([k, v]) => vscode.commands.executeCommand('setContext', k, v)));
    this.changed.fire(c);
  }

  dispose(): void { this.changed.dispose(); }
}
