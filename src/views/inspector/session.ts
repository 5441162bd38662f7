// One open image in the inspector: its document, its state (the last model, the facts, the button running), what
// the timings tests read, and what the provider needs from the rest of the extension.
import * as vscode from 'vscode';
import type { ImageInfo } from '../../common/image';
import type { Capabilities } from '../../common/protocol';
import type { Refresher } from '../refresher';
import type { ActionId, InspectorModel } from './messages';
import type { ImageWatcher } from './watcher';

/** Collaborators: the refresher owns every refresh (the listing, file changes); Recent Images records what was opened. */
export interface InspectorExtras {
  refresher: Refresher;
  recent?: { add(file: string): Promise<void>; childrenOf?(image: string): Promise<string[]>; onDidChangeTreeData?: vscode.Event<unknown> };
  /** The worker's capability report: which attach buttons can work for this user here. */
  caps?: () => Capabilities | undefined;
}

/** Milliseconds from openCustomDocument: webview created, page script running, first facts sent, first facts drawn. */
export interface InspectorTimings {
  resolvedMs?: number; pageLoadMs?: number; pageReadyMs?: number; factsPostedMs?: number; factsPaintedMs?: number; inspectMs?: number;
  /** What the page drew first: 'ready' when the facts were known before the page was made (no spinner at all). */
  firstPaint?: InspectorModel['state'];
}

export class InspectorDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri, private readonly onDispose: () => void) {}
  dispose(): void { this.onDispose(); }
}

export interface Session {
  uri: vscode.Uri;
  file: string;
  panels: Set<vscode.WebviewPanel>;
  model: InspectorModel;
  info?: ImageInfo;
  inspectMs: number;
  busy: ActionId | null;
  status: string;
  failures: number;
  loading?: vscode.CancellationTokenSource;
  watcher: ImageWatcher;
  openedAt: number;
  timings: InspectorTimings;
  painted?: { revision: number; state: InspectorModel['state'] };
  /** Recent Images that read through this image. */
  recentChildren: string[];
  /** The attachments the status line was written for: when they change (a detach in the tree), the line goes. */
  statusFor?: string;
}
