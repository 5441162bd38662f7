// What the inspector's buttons run (the ordinary commands, with the image's Uri), their labels, and the status line
// each result or error becomes.
import * as path from 'path';
import * as vscode from 'vscode';
import { ErrorCode } from '../../common/protocol';
import type { ActionId } from './messages';

export const COMMAND_OF: Record<ActionId, string> = {
  attach: 'vdisk.attach', attachReadOnly: 'vdisk.attachReadOnly', detach: 'vdisk.detach',
  createDiff: 'vdisk.createDiff', inspectText: 'vdisk.inspect', locateParent: 'vdisk.locateParent', browse: 'vdisk.browse',
  resize: 'vdisk.resize',
};
export const LABEL_OF: Record<ActionId, string> = {
  attach: 'Attach Read-Write', attachReadOnly: 'Attach Read-Only', detach: 'Detach', createDiff: 'Create Differencing Child', inspectText: 'Inspect as Text',
  locateParent: 'Locate Parent', browse: 'Browse Files', resize: 'Resize',
};

/** The status line after a button's command returned `result` (undefined: it did not complete). */
export function outcome(action: ActionId, result: unknown): string {
  if (result === undefined) return `${LABEL_OF[action]} did not complete (see the notification or the log).`;
  const list = Array.isArray(result) ? result as { device?: string; readOnly?: boolean }[] : [];
  switch (action) {
    case 'attach': case 'attachReadOnly':
      return `Attached as ${list.map((d) => `${d.device}${d.readOnly ? ' (read-only)' : ''}`).join(', ')}.`;
    case 'browse':
      return 'The image\'s files are open in the Explorer, read-only (nothing attached).';
    case 'detach':
      return `Detached ${list.map((d) => d.device).join(', ')}.`;
    case 'locateParent': {
      const r = result as { child?: string; parent?: string };
      return `${path.basename(r.child ?? '')} now uses ${r.parent}.`;
    }
    case 'resize': {
      const r = result as { before?: number; after?: number };
      return `Resized from ${r.before} to ${r.after} bytes.`;
    }
    default: {
      const child = result instanceof vscode.Uri ? result.fsPath : typeof result === 'string' ? result
        : (result as { child?: string }).child;
      return child ? `Created ${child}.` : `${LABEL_OF[action]} done.`;
    }
  }
}

/** What to do about an Inspect that failed with `code`. */
export function hintFor(code: number | null): string {
  switch (code) {
    case ErrorCode.NotFound: return 'The file was moved, renamed or deleted. This view comes back by itself when the file does; Retry checks now.';
    case ErrorCode.PermissionDenied: return 'The file cannot be read with your permissions.';
    case ErrorCode.WorkerDied: return 'The Virtual Disks worker stopped. Retry starts it again.';
    default: return 'Retry, or open the log (Virtual Disks: Show Log) for details.';
  }
}
