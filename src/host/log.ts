import * as vscode from 'vscode';
import type { Logger } from './worker-client';

/** The "Virtual Disks" log channel; its level is set from VS Code's "Set Log Level..." like any LogOutputChannel. */
export function createLog(): { channel: vscode.LogOutputChannel; logger: Logger } {
  const channel = vscode.window.createOutputChannel('Virtual Disks', { log: true });
  const logger: Logger = {
    trace: (m) => channel.trace(m), debug: (m) => channel.debug(m), info: (m) => channel.info(m),
    warn: (m) => channel.warn(m), error: (m) => channel.error(m),
  };
  return { channel, logger };
}
