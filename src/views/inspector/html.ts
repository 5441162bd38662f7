// The inspector page shell. Everything dynamic is drawn by dist/inspector.js (src/views/inspector/webview/main.ts)
// from the model it receives, with DOM APIs only (no innerHTML), so nothing without this page's nonce may run or
// style it.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';

export function nonce(): string {
  return randomBytes(18).toString('base64').replace(/[^A-Za-z0-9]/g, '');
}

/**
 * default-src 'none'; the page's one stylesheet and one script are inline and carry this page's nonce. They are
 * inline rather than fetched from `webview.cspSource` because each fetch of a webview resource goes through the
 * service worker, the workbench and (in remote windows) the server: inlining takes 50-100 ms off opening.
 */
export function contentSecurityPolicy(pageNonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${pageNonce}'`,
    `script-src 'nonce-${pageNonce}'`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export interface InspectorAssets { css: string; js: string }

/** Reads media/inspector/main.css and dist/inspector.js once; refuses text that could close its element early. */
export async function loadAssets(extensionRoot: vscode.Uri): Promise<InspectorAssets> {
  const read = async (...p: string[]) => Buffer.from(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(extensionRoot, ...p))).toString('utf8');
  const [css, js] = await Promise.all([read('media', 'inspector', 'main.css'), read('dist', 'inspector.js')]);
  if (/<\/style/i.test(css) || /<\/script|<!--/i.test(js)) throw new Error('the inspector assets contain markup that would end their element');
  return { css, js };
}

/**
 * `initial` is the model known when the page is made (usually the facts already: inspection starts when the
 * document opens, before the webview exists). It rides in a JSON data block, which is never executed, so the
 * script can draw it without waiting for a message round trip.
 */
export function inspectorHtml(assets: InspectorAssets, title: string, initial?: unknown): string {
  const n = nonce();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(n)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${n}">${assets.css}</style>
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="root" aria-busy="true">
<p class="loading" role="status">Reading ${escapeHtml(title)}…</p>
</main>
<div id="live" class="visually-hidden" role="status" aria-live="polite"></div>
${initial === undefined ? '' : `<script type="application/json" id="initial-model">${jsonForScript(initial)}</script>`}
<script nonce="${n}">${assets.js}</script>
</body>
</html>`;
}

/** JSON that cannot end its <script> element or open a comment: `<`, `>`, `&` and the JS line separators escaped. */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
