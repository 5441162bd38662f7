// Typed access to scripts/code-server-lib.js for the UI flows, plus workbench locators and screenshots.
// The flows run in plain Node (mocha) and drive headless Chromium through playwright-core.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BrowserContext, Locator, Page } from 'playwright-core';

export interface LoopDevice { name: string; backFile: string; readOnly: boolean }
export interface CodeServer { url: string; port: number; stop(): Promise<void>; output(): string }
export interface StartOptions {
  folder?: string; vsix?: string[]; smokeTestDriver?: boolean; env?: Record<string, string>;
  settings?: Record<string, unknown>; workspaceTrust?: boolean;
}
interface Lib {
  ROOT: string;
  startCodeServer(o: StartOptions): Promise<CodeServer>;
  workbenchUrl(server: CodeServer, folder: string, payload?: Record<string, string>): string;
  launchChromium(): Promise<BrowserContext>;
  loopsUnder(dir: string): LoopDevice[];
  listLoops(): LoopDevice[];
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
/** Pictures of failures: evidence for the one who runs the suite, never part of the repository. */
export const FAILURE_SHOTS = process.env.VDISK_UI_FAILURE_SHOTS || path.join(os.tmpdir(), 'vdisk-ui-failures');

/** Set by scripts/run-ui-tests.js: the packaged VSIX and the workspace of sample images. */
export function uiInputs(): { vsix: string; workspace: string } {
  const vsix = process.env.VDISK_UI_VSIX;
  const workspace = process.env.VDISK_UI_WORKSPACE;
  if (!vsix || !workspace) throw new Error('VDISK_UI_VSIX / VDISK_UI_WORKSPACE unset: run through scripts/run-ui-tests.js');
  return { vsix, workspace };
}

export async function shot(page: Page, name: string, dir = SHOTS): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  await page.waitForTimeout(600);   // let toasts and list animations settle so the picture shows the end state
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
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

/**
 * The hooks every flow needs. Before: code-server with `options` (the packaged VSIX among them) and Chromium on its
 * workbench, once vdisk's activity-bar entry shows. After: a picture if a test failed, then both stopped.
 * `set` hands the page to the suite. Hooks run in the order they are registered: a suite that prepares files
 * registers that `before` first, and its own clean-up `after` later (it then runs once the workbench is gone).
 */
export function useWorkbench(options: StartOptions, set: (page: Page) => void): void {
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  let page: Page | undefined;
  let failed = false;
  before(async () => {
    server = await lib.startCodeServer(options);
    browser = await lib.launchChromium();
    page = browser.pages()[0] || await browser.newPage();
    set(page);
    await page.goto(lib.workbenchUrl(server, options.folder!));
    await page.locator('.part.activitybar .action-item a[aria-label*="Virtual Disks"]').waitFor({ timeout: 60000 });
    if (!options.workspaceTrust) await untilTrusted(page);
  });
  afterEach(function () { if (this.currentTest?.state === 'failed') failed = true; });
  after(async () => {
    if (page && failed) {
      // what the workbench showed, outside the repository (test/ui/screenshots holds only the flows' pictures)
      const file = await shot(page, `after-failure-${new Date().toISOString().replace(/[:.]/g, '-')}`, FAILURE_SHOTS).catch(() => undefined);
      if (file) console.log(`      failure screenshot: ${file}`);
    }
    if (browser) await browser.close();
    if (server) await server.stop();
  });
}

/**
 * The workbench sets isWorkspaceTrusted, which gates every attach entry, a moment after start-up (even with trust
 * switched off): wait until the palette offers Attach, so no flow acts on the early, untrusted menus.
 */
async function untilTrusted(page: Page): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const attach = page.locator('.quick-input-list .monaco-list-row .label-name', { hasText: 'Virtual Disks: Attach Disk Image' });
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press('F1');
    await input.waitFor();
    await input.fill('>Virtual Disks: Attach');
    try {
      await attach.first().waitFor({ timeout: 5000 });
      break;
    } catch (e) {
      if (attempt >= 5) throw new Error(`the workspace never became trusted: ${(e as Error).message}`);
    } finally {
      await page.keyboard.press('Escape');
    }
  }
}

/** `node dist/cli.js ...args`: its stdout, or an error with its stderr. */
export function vdiskCli(...args: string[]): string {
  const js = path.join(ROOT, 'dist/cli.js');
  if (!fs.existsSync(js)) throw new Error(`${js} is missing: build first (node esbuild.js)`);
  const r = cp.spawnSync(process.execPath, [js, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vdisk ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}
