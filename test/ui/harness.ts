// Typed access to scripts/code-server-lib.js for the UI flows, plus workbench locators and screenshots.
// The flows run in plain Node (mocha) and drive headless Chromium through playwright-core.
import * as fs from 'fs';
import * as path from 'path';
import type { BrowserContext, Locator, Page } from 'playwright-core';

export interface LoopDevice { name: string; backFile: string; readOnly: boolean }
export interface CodeServer { url: string; port: number; stop(): Promise<void>; output(): string }
interface Lib {
  ROOT: string;
  startCodeServer(o: { folder?: string; vsix?: string[]; smokeTestDriver?: boolean; env?: Record<string, string> }): Promise<CodeServer>;
  workbenchUrl(server: CodeServer, folder: string, payload?: Record<string, string>): string;
  launchChromium(): Promise<BrowserContext>;
  loopsUnder(dir: string): LoopDevice[];
}

function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'vdisk') return dir;
  }
  throw new Error(`no vdisk package.json above ${__dirname}`);
}

export const ROOT = repoRoot();
export const lib = require(path.join(ROOT, 'scripts/code-server-lib.js')) as Lib;
export const SHOTS = process.env.VDISK_UI_SHOTS || path.join(ROOT, 'test/ui/screenshots');

/** Set by scripts/run-ui-tests.js: the packaged VSIX and the workspace of sample images. */
export function uiInputs(): { vsix: string; workspace: string } {
  const vsix = process.env.VDISK_UI_VSIX;
  const workspace = process.env.VDISK_UI_WORKSPACE;
  if (!vsix || !workspace) throw new Error('VDISK_UI_VSIX / VDISK_UI_WORKSPACE unset: run through scripts/run-ui-tests.js');
  return { vsix, workspace };
}

export async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(600);   // let toasts and list animations settle so the picture shows the end state
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

const exact = (text: string): RegExp => new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);

/** The Explorer row whose file name is exactly `name` (after Ctrl+Shift+E shows the Explorer). */
export function explorerRow(page: Page, name: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact(name) }) });
}

/** An entry of the open context menu whose label is exactly `label` (CSS pierces the menu's shadow root). */
export function menuItem(page: Page, label: string): Locator {
  return page.locator('.monaco-menu .action-item').filter({ has: page.locator('.action-label', { hasText: exact(label) }) });
}

/**
 * Runs an entry of the open context menu. The workbench ignores a click that lands right after the menu opened
 * (so the right-click's own mouse-up cannot trigger an entry): hover first, click, and retry while it stays open.
 */
export async function runMenuItem(page: Page, label: string): Promise<void> {
  const item = menuItem(page, label);
  await item.waitFor();
  await item.hover();
  for (let i = 0; i < 5 && await item.isVisible(); i++) {
    await item.click({ timeout: 2000 }).catch(() => { /* the menu closed under us: done */ });
    await page.locator('.monaco-menu').waitFor({ state: 'detached', timeout: 1000 }).catch(() => {});
  }
  if (await item.isVisible()) throw new Error(`context menu entry "${label}" did not run`);
}

/** Rows of the sidebar's "Attached Disks" tree whose label contains `text`. */
export function attachedRow(page: Page, text: string): Locator {
  return page.locator('.part.sidebar .pane').filter({ has: page.locator('.pane-header', { hasText: /Attached Disks/i }) })
    .locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: text }) });
}

export function toast(page: Page, text: RegExp): Locator {
  return page.locator('.notifications-toasts .notification-toast').filter({ hasText: text });
}
