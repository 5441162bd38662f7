// The image inspector as a user sees it, in code-server with the packaged VSIX: double-click an image in the
// Explorer -> the inspector page (a webview) with the facts -> Attach Read-Only / Detach from the page (cross-checked
// with losetup) -> a 3-deep differencing chain, then the same chain with its base moved away -> light and high
// contrast themes. Every step leaves a screenshot in test/ui/screenshots/.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { FrameLocator, Page } from 'playwright-core';
import { explorerRow, lib, shot, uiInputs, useWorkbench, vdiskCli } from './harness';

// What the functions passed to evaluate() use inside the page (the tests compile without the DOM library).
declare const document: { activeElement: unknown };
declare function getComputedStyle(el: unknown): { backgroundColor: string };

describe('image inspector in code-server (packaged VSIX)', function () {
  this.timeout(120000);
  let page: Page;
  const { vsix, workspace } = uiInputs();
  const chainDir = path.join(workspace, 'chain');
  const base = path.join(chainDir, 'base.vhd');
  const moved = path.join(chainDir, 'base.vhd.moved');


  /** The inspector page: the workbench's webview iframe, then the page's own frame inside it. */
  function inspector(): FrameLocator {
    return page.frameLocator('iframe.webview.ready').last().frameLocator('#active-frame');
  }

  async function openFromExplorer(rel: string): Promise<FrameLocator> {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+E');
    const parts = rel.split('/');
    for (const folder of parts.slice(0, -1)) {
      const row = explorerRow(page, folder);
      await row.waitFor({ timeout: 20000 });
      if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
    }
    const row = explorerRow(page, parts[parts.length - 1]);
    await row.waitFor({ timeout: 20000 });
    await row.dblclick();
    const frame = inspector();
    await frame.locator('h1', { hasText: parts[parts.length - 1] }).waitFor({ timeout: 30000 });
    return frame;
  }

  /** A row of the open quick pick whose label is exactly `label`. */
  function pickRow(label: string) {
    const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
    return page.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact }) }).first();
  }

  /** Preferences: Color Theme from the palette, as a user does it. */
  async function setTheme(label: string): Promise<void> {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor();
    await input.fill('>Preferences: Color Theme');
    await pickRow('Preferences: Color Theme').click();
    await input.fill(label);
    await pickRow(label).click();
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
    await inspector().locator('h1').click();   // focus back in the page: no focused tab with its tooltip in the pictures
  }

  async function pageColors(frame: FrameLocator): Promise<{ body: string; button: string }> {
    return frame.locator('body').evaluate((b) => ({
      body: getComputedStyle(b).backgroundColor,
      button: getComputedStyle(b.querySelector('button.primary')!).backgroundColor,
    }));
  }

  before(async () => {
    fs.mkdirSync(chainDir, { recursive: true });
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', base, '256M']);
    vdiskCli('create-diff', base, path.join(chainDir, 'middle.vhd'));
    vdiskCli('create-diff', path.join(chainDir, 'middle.vhd'), path.join(chainDir, 'top.vhd'));
  });

  // a known starting theme, and no empty secondary side bar taking a third of the screenshots
  useWorkbench({ folder: workspace, vsix: [vsix], smokeTestDriver: false,
    settings: { 'workbench.colorTheme': 'Default Dark Modern', 'workbench.secondarySideBar.defaultVisibility': 'hidden' } }, (p) => { page = p; });

  after(async () => {
    if (fs.existsSync(moved)) fs.renameSync(moved, base);
    fs.rmSync(chainDir, { recursive: true, force: true });
  });

  it('double-clicking a VHD in the Explorer opens the inspector with its facts, without attaching it', async () => {
    const frame = await openFromExplorer('fixed disk.vhd');
    const facts = (await frame.locator('dl.facts').textContent()) || '';
    assert.match(facts, /FormatVHD fixed/);
    assert.match(facts, /Virtual size8 MiB \(8,388,608 bytes\)/);
    assert.match(facts, /Creatorqem[u2] /);   // qemu-img writes 'qem2' for force_size=on
    await frame.locator('.badge', { hasText: 'Not attached' }).waitFor();
    assert.ok(await frame.getByRole('button', { name: 'Attach Read-Only' }).isEnabled());
    assert.ok(await frame.getByRole('button', { name: 'Detach' }).isDisabled());
    assert.strictEqual(await frame.locator('ol.chain > li').count(), 1);
    assert.deepStrictEqual(lib.loopsUnder(workspace), [], 'opening the inspector attached something');
    const tab = page.locator('.tabs-container .tab.active');
    assert.match((await tab.getAttribute('aria-label')) || '', /fixed disk\.vhd/);
    await shot(page, '10-inspector-fixed-vhd');
  });

  it('Attach Read-Only on the page attaches the image; Detach detaches it', async () => {
    const frame = inspector();
    await frame.getByRole('button', { name: 'Attach Read-Only' }).click();
    const badge = frame.locator('.badge.attached');
    await badge.waitFor({ timeout: 30000 });
    const text = (await badge.textContent()) || '';
    const loops = lib.loopsUnder(workspace);
    assert.strictEqual(loops.length, 1, `losetup shows ${loops.length} device(s)`);
    assert.strictEqual(loops[0].readOnly, true);
    assert.ok(text.includes(`Attached as ${loops[0].name} · read-only`), `badge says "${text}", losetup says ${loops[0].name}`);
    await frame.getByRole('button', { name: 'Detach' }).waitFor({ state: 'visible' });
    assert.ok(await frame.getByRole('button', { name: 'Detach' }).isEnabled());
    await shot(page, '11-inspector-attached');
    await frame.getByRole('button', { name: 'Detach' }).click();
    await frame.locator('.badge', { hasText: 'Not attached' }).waitFor({ timeout: 30000 });
    assert.deepStrictEqual(lib.loopsUnder(workspace), []);
  });

  it('draws a 3-deep differencing chain', async () => {
    const frame = await openFromExplorer('chain/top.vhd');
    const layers = frame.locator('ol.chain > li');
    await layers.nth(2).waitFor();
    assert.strictEqual(await layers.count(), 3);
    const names = await frame.locator('ol.chain .layer-name').allTextContents();
    assert.deepStrictEqual(names, ['top.vhd', 'middle.vhd', 'base.vhd']);
    assert.match((await layers.nth(2).textContent()) || '', /VHD dynamic/);
    await frame.locator('#chain-h').evaluate((el: { scrollIntoView(): void }) => el.scrollIntoView());
    await shot(page, '12-inspector-chain');
  });

  it('Create Differencing Child asks where to save and creates the child over this image', async () => {
    const frame = inspector();
    const child = path.join(chainDir, 'top-diff.vhd');
    await frame.getByRole('button', { name: 'Create Differencing Child…' }).click();
    // code-server's save dialog is the workbench's own file dialog (a quick input holding the proposed path)
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: 20000 });
    let proposed = '';
    for (const end = Date.now() + 15000; Date.now() < end && !proposed.endsWith('/chain/top-diff.vhd'); await page.waitForTimeout(100)) {
      proposed = await input.inputValue();   // the dialog fills in the proposed name once it has listed the folder
    }
    assert.strictEqual(proposed, child);
    await page.keyboard.press('Enter');
    await frame.locator('.status', { hasText: `Created ${child}.` }).waitFor({ timeout: 20000 });
    assert.ok(fs.existsSync(child), `${child} was not created`);
    await shot(page, '13-inspector-created-child');
    // close the command's "Created ..." notification so it does not cover the next pictures
    const created = page.locator('.notifications-toasts .notification-toast', { hasText: 'Created top-diff.vhd' });
    await created.hover();
    await created.locator('.codicon-notifications-clear').click();
    await created.waitFor({ state: 'detached', timeout: 5000 });
  });

  it('marks the missing base on its layer and explains it when the base is moved away', async () => {
    fs.renameSync(base, moved);
    const frame = inspector();
    const missing = frame.locator('ol.chain > li.missing');
    await missing.waitFor({ timeout: 20000 });
    assert.match((await missing.textContent()) || '', /ancestor 2\s*base\.vhd\s*✕ not found.*looked for at relative .*base\.vhd/s);
    const problem = frame.locator('.problem', { hasText: 'parent-missing' });
    await problem.waitFor();
    assert.match((await problem.textContent()) || '', /What it means:.*What to do:/s);
    await missing.locator('button.mark').click();   // the mark takes keyboard focus to the explanation
    assert.strictEqual(await problem.evaluate((el) => el === document.activeElement), true);
    await shot(page, '14-inspector-missing-parent');
    fs.renameSync(moved, base);
    await missing.waitFor({ state: 'detached', timeout: 20000 });
  });

  it('shows why a file cannot be read, with Retry, and the facts again when the file is back', async () => {
    const iso = path.join(workspace, 'install media.iso');
    const away = `${iso}.away`;
    const frame = await openFromExplorer('install media.iso');
    await frame.locator('dl.facts', { hasText: 'ISO 9660' }).waitFor();
    try {
      fs.renameSync(iso, away);
      const alert = frame.getByRole('alert');
      await alert.waitFor({ timeout: 20000 });
      assert.match((await alert.textContent()) || '', /could not be inspected.*install media\.iso does not exist/s);
      await shot(page, '15-inspector-error');
      await frame.getByRole('button', { name: 'Retry' }).click();
      await frame.locator('.attempts', { hasText: 'Tried 2 times.' }).waitFor({ timeout: 10000 });
      fs.renameSync(away, iso);   // the page watches the file: it comes back by itself
      await frame.locator('dl.facts', { hasText: 'Volume labelVDISK_SAMPLE' }).waitFor({ timeout: 20000 });
    } finally {
      if (!fs.existsSync(iso) && fs.existsSync(away)) fs.renameSync(away, iso);
    }
  });

  it('follows the colour theme (dark, light, high contrast)', async () => {
    const frame = await openFromExplorer('chain/top.vhd');
    await frame.locator('h1').evaluate((el: { scrollIntoView(): void }) => el.scrollIntoView());   // header and buttons in view
    await page.locator('.monaco-workbench.vs-dark').waitFor({ timeout: 20000 });
    const dark = await pageColors(frame);
    await setTheme('Light Modern');
    await page.locator('.monaco-workbench.vs').waitFor({ timeout: 20000 });
    await frame.locator('body.vscode-light').waitFor({ timeout: 20000 });
    const light = await pageColors(frame);
    assert.notDeepStrictEqual(light, dark, 'the page kept its colours after the switch to a light theme');
    await shot(page, '16-inspector-light');
    await setTheme('Dark High Contrast');
    await page.locator('.monaco-workbench.hc-black').waitFor({ timeout: 20000 });
    await frame.locator('body.vscode-high-contrast').waitFor({ timeout: 20000 });
    assert.notDeepStrictEqual(await pageColors(frame), dark, 'the page kept its colours after the switch to high contrast');
    await shot(page, '17-inspector-high-contrast');
    await setTheme('Dark Modern');
  });
});
