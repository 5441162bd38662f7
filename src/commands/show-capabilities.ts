import * as vscode from 'vscode';
import { capabilitiesUri } from '../views/report-provider';

/** Show What's Missing / Show What This Machine Can Do: the capability report as a read-only document. */
export async function showCapabilities(): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(capabilitiesUri());
  await vscode.window.showTextDocument(doc, { preview: true });
}
