// Identifiers the activation registers before the views' own modules load (src/extension.ts).
import * as vscode from 'vscode';

export const IMAGE_SCHEME = 'vdisk-image';
export const REPORT_SCHEME = 'vdisk-report';
export const INSPECTOR_VIEW_TYPE = 'vdisk.inspector';
export const READONLY_MESSAGE = new vscode.MarkdownString(
  'Files inside a disk image are read-only: **Browse Disk Image** reads the image without attaching or changing it. Use **Extract...** to copy files out.');
/** How the inspector is registered (at activation, before its provider's module loads). */
export const INSPECTOR_OPTIONS = { supportsMultipleEditorsPerDocument: true, webviewOptions: { retainContextWhenHidden: false, enableFindWidget: true } };
