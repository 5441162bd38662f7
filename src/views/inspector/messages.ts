// The contract between the inspector webview (webview/main.ts) and the extension. The extension computes
// the whole page model; the webview only draws it and reports clicks. No `vscode` here.

export type ActionId = 'attach' | 'attachReadOnly' | 'detach' | 'createDiff' | 'inspectText' | 'locateParent' | 'browse' | 'resize';

export interface ActionView {
  id: ActionId;
  label: string;
  enabled: boolean;
  /** Tooltip: what the button does, or why it is disabled. */
  title: string;
  primary?: boolean;
}

export interface FactView {
  label: string;
  value: string;
  /** Shown in the editor font (ids, paths, byte counts). */
  mono?: boolean;
}

export type LayerStatus = 'ok' | 'problem' | 'missing';

export interface LayerView {
  /** 0 = the image itself; a 'missing' layer is the parent that could not be found. */
  level: number;
  role: string;
  /** Resolved path; null for a missing parent. */
  path: string | null;
  name: string;
  /** "VHD dynamic", "VHDX differencing", ... or "not found". */
  kind: string;
  id: string | null;
  status: LayerStatus;
  /** Indexes into ReadyModel.problems of the problems that belong to this layer. */
  problems: number[];
  /** Extra line: where a missing parent was looked for, what the child expects, ... */
  note?: string;
}

export interface ProblemView {
  code: string;
  message: string;
  /** Plain-language meaning and what to do about it. */
  meaning: string;
  action: string;
  /** Index into ReadyModel.chain of the failing layer. */
  layer: number;
}

export interface AttachmentView {
  device: string;
  access: 'read-only' | 'read-write';
  lifetime: string;
  ours: boolean;
  mountPoints: string[];
}

interface Base {
  /** Increases with every model sent; the webview echoes it back once drawn. */
  revision: number;
  path: string;
  name: string;
}

export interface LoadingModel extends Base { state: 'loading' }

export interface ErrorModel extends Base {
  state: 'error';
  message: string;
  /** Worker error code (protocol ErrorCode) when known. */
  code: number | null;
  hint: string;
  /** Failed attempts in a row (Retry shows that it tried again). */
  attempts: number;
}

export interface ReadyModel extends Base {
  state: 'ready';
  /** The raw facts, for tests and for the text report. */
  image: {
    format: string; subtype: string | null; virtualSize: number; fileSize: number; id: string | null;
    virtualDiskId: string | null; creator: string | null;
  };
  title: string;
  facts: FactView[];
  chain: LayerView[];
  problems: ProblemView[];
  attachments: AttachmentView[];
  actions: ActionView[];
  /** The action running right now (its button shows progress, the others are disabled). */
  busy: ActionId | null;
  /** One line about the last action or refresh, read out by screen readers. */
  status: string;
  /** Milliseconds the worker took to inspect the file. */
  inspectMs: number;
}

export type InspectorModel = LoadingModel | ErrorModel | ReadyModel;

/** Extension -> webview. */
export type ToWebview = { type: 'render'; model: InspectorModel };

/** Webview -> extension. */
export type FromWebview =
  /** `loadMs`: from the page's navigation start to its script running (performance.now() at that point). */
  | { type: 'ready'; loadMs?: number }
  | { type: 'rendered'; revision: number; state: InspectorModel['state'] }
  | { type: 'action'; action: ActionId }
  | { type: 'retry' }
  | { type: 'openLayer'; level: number };

const ACTIONS: readonly string[] = ['attach', 'attachReadOnly', 'detach', 'createDiff', 'inspectText', 'locateParent', 'browse', 'resize'];

/** Messages come from a web page: check their shape before acting on them. */
export function parseFromWebview(m: unknown): FromWebview | null {
  if (typeof m !== 'object' || m === null) return null;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'ready': return typeof o.loadMs === 'number' ? { type: 'ready', loadMs: o.loadMs } : { type: 'ready' };
    case 'retry': return { type: 'retry' };
    case 'rendered':
      return typeof o.revision === 'number' && (o.state === 'loading' || o.state === 'error' || o.state === 'ready')
        ? { type: 'rendered', revision: o.revision, state: o.state } : null;
    case 'action':
      return typeof o.action === 'string' && ACTIONS.includes(o.action) ? { type: 'action', action: o.action as ActionId } : null;
    case 'openLayer':
      return Number.isInteger(o.level) && (o.level as number) >= 0 ? { type: 'openLayer', level: o.level as number } : null;
    default: return null;
  }
}
