// Read-only `vdisk-report:` documents: an image's facts as text, highlighted by syntaxes/vdisk-report.tmLanguage.json.
import * as path from 'path';
import * as vscode from 'vscode';
import { GetCapabilities, Inspect, List, type AttachedDisk } from '../common/protocol';
import { imageReport } from '../common/describe';
import { capabilityReport } from '../common/describe-capabilities';
import type { WorkerClient } from '../host/worker-client';

import { REPORT_SCHEME } from './names';

export { REPORT_SCHEME };

export function reportUri(image: string): vscode.Uri {
  return vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${path.basename(image)}.vdisk-report`, query: new URLSearchParams({ image }).toString() });
}

/** The capability report: what this user can attach here, how, and what is missing. */
export function capabilitiesUri(): vscode.Uri {
  return vscode.Uri.from({ scheme: REPORT_SCHEME, path: '/capabilities.vdisk-report', query: 'capabilities' });
}

export class ReportProvider implements vscode.TextDocumentContentProvider {
  constructor(private readonly client: WorkerClient, private readonly attached: () => Promise<readonly AttachedDisk[]>) {}
  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    if (uri.query === 'capabilities') return `${capabilityReport(await this.client.request(GetCapabilities, token))}\n`;
    const image = new URLSearchParams(uri.query).get('image');
    if (!image) throw new Error(`Malformed report address ${uri.toString()}`);
    const info = await this.client.request(Inspect, { path: image }, token);
    return `${imageReport(info, await this.attached())}\n`;
  }
}
