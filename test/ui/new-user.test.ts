// Issue 16 as a new user meets it, in Chromium + code-server with the packaged VSIX (toasts shown): the access
// mode on every entry, ISO files read-only only, Retry Read-Only without a second file dialog, an Explorer badge
// on an attached image, and a Detach Every Disk Image... that asks first and sums up after.
import * as assert from 'assert';
import * as path from 'path';
import type { Page } from 'playwright-core';
// the page's own functions, used inside evaluate()
declare function getComputedStyle(el: unknown, pseudo?: string): { content: string };

import { explorerRow, lib, menuItem, runMenuItem, shot, toast, uiInputs, useWorkbench, vdiskCli } from './harness';

describe('a new user\'s first steps (code-server, packaged VSIX)', function () {
  this.timeout(120000);
  let page: Page;
  const { vsix, workspace } = uiInputs();
  const iso = path.join(workspace, 'install media.iso');
  const input = () => page.locator('.quick-input-widget input');
  const paletteRows = () => page.locator('.quick-input-list .monaco-list-row .label-name');

  useWorkbench({ folder: workspace, vsix: [vsix], smokeTestDriver: false,
    settings: { 'workbench.secondarySideBar.defaultVisibility': 'hidden' } }, (p) => { page = p; });

  after(() => {
    for (const l of lib.loopsUnder(workspace)) { try { vdiskCli('detach', l.name); } catch { /* the runner reports leftovers */ } }
  });

  async function rightClickInExplorer(name: string): Promise<void> {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+E');
    const row = explorerRow(page, name);
    await row.waitFor({ timeout: 20000 });
    await row.click({ button: 'right' });
  }

  async function palette(text: string): Promise<string[]> {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await input().waitFor();
    await input().fill(`>${text}`);
    await paletteRows().first().waitFor();
    await page.waitForTimeout(300);   // the list filters as it is typed: read it once the last keystroke applied
    return (await paletteRows().allTextContents()).map((l) => l.trim());
  }

  async function until(what: string, probe: () => boolean, ms = 30000): Promise<void> {
    for (const end = Date.now() + ms; !probe(); await page.waitForTimeout(200)) if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }

  it('offers an ISO only read-only entries in the Explorer', async () => {
    await rightClickInExplorer('install media.iso');
    await menuItem(page, 'Attach Disk Image (Read-Only)...').waitFor();
    assert.strictEqual(await menuItem(page, 'Attach Disk Image (Read-Write)...').count(), 0, 'an ISO is offered a read-write attach');
    await shot(page, '30-iso-context-menu-read-only');
    await page.keyboard.press('Escape');
    await rightClickInExplorer('disk.img');
    await menuItem(page, 'Attach Disk Image (Read-Only)...').waitFor();
    assert.strictEqual(await menuItem(page, 'Attach Disk Image (Read-Write)...').count(), 1, 'a raw image lacks the read-write entry');
    await page.keyboard.press('Escape');
  });

  it('Retry Read-Only after a palette attach attaches the same file without asking for it again', async () => {
    const labels = await palette('Virtual Disks: Attach Disk Image (Read-Write)');
    assert.strictEqual(labels[0], 'Virtual Disks: Attach Disk Image (Read-Write)...');
    await page.keyboard.press('Enter');
    // code-server's file dialog is a quick input with a path box: type the ISO's path and accept it
    await input().waitFor();
    const error = toast(page, /read-only/i);
    // code-server's dialog may still be loading the folder it opened on when the path is typed; it then answers
    // "Please enter a path that exists" for a file that does exist: type it again (at most twice more)
    const refused = page.locator('.quick-input-widget .quick-input-message', { hasText: /path that exists/i });
    for (let attempt = 0; ; attempt++) {
      await input().fill(iso);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'install media.iso' }).first().waitFor();
      await page.keyboard.press('Enter');
      const outcome = await Promise.race([
        error.waitFor({ timeout: 30000 }).then(() => 'answered', () => 'timeout'),
        refused.waitFor({ timeout: 30000 }).then(() => 'refused', () => 'timeout'),
      ]);
      if (outcome !== 'refused' || attempt === 2) break;
    }
    await error.waitFor({ timeout: 30000 });
    await shot(page, '31-iso-read-write-error-retry');
    await error.locator('.monaco-button', { hasText: 'Retry Read-Only' }).click();
    await until('the ISO to be attached read-only', () => lib.loopsUnder(workspace).some((l) => l.backFile === iso && l.readOnly));
    assert.ok(!(await page.locator('.quick-input-widget').isVisible()), 'the file dialog opened again');
  });

  it('badges the attached image in the Explorer', async () => {
    await page.keyboard.press('Control+Shift+E');
    const row = explorerRow(page, 'install media.iso');
    await row.waitFor();
    const badge = async () => row.evaluate((el) => Array.from((el as unknown as { querySelectorAll(s: string): ArrayLike<unknown> }).querySelectorAll('*'))
      .map((e) => getComputedStyle(e, '::after').content).find((c) => /RO/.test(c)) ?? '');
    for (const end = Date.now() + 15000; !(await badge()) && Date.now() < end;) await page.waitForTimeout(200);
    assert.match(await badge(), /"RO"/, 'no RO badge on the attached ISO');
    await shot(page, '32-explorer-badge');
  });

  it('lists the single Detach before Detach Every; both ask before detaching several disks, then sum up', async () => {
    await rightClickInExplorer('disk.img');
    await runMenuItem(page, 'Attach Disk Image (Read-Only)...');
    await until('disk.img to be attached', () => lib.loopsUnder(workspace).length === 2);
    const labels = await palette('Virtual Disks: Detach Disk Image');
    assert.strictEqual(labels[0], 'Virtual Disks: Detach Disk Image...', `first match: ${JSON.stringify(labels)}`);
    assert.ok(labels.indexOf('Virtual Disks: Detach Every Disk Image...') > 0, JSON.stringify(labels));
    // Detach Every asks (the machine is shared: other disks may be attached, so it is only ever cancelled here)
    await input().fill('>Virtual Disks: Detach Every Disk Image');
    await paletteRows().filter({ hasText: 'Detach Every Disk Image...' }).first().waitFor();
    await page.keyboard.press('Enter');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 20000 });
    assert.match((await dialog.textContent()) ?? '', /Detach \d+ disks\?/);
    await shot(page, '33-detach-every-asks');
    await dialog.locator('.monaco-button', { hasText: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.strictEqual(lib.loopsUnder(workspace).length, 2, 'Cancel detached anyway');
    // the single Detach with both picked asks too, and sums up
    // (the palette lists recently used commands first: pick the row by its exact title, not by position)
    await palette('Virtual Disks: Detach Disk Image...');
    await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: /^\s*Virtual Disks: Detach Disk Image\.\.\.\s*$/ }) }).first().click();
    await page.locator('.quick-input-widget input[placeholder="Select the disks to detach"]').waitFor();
    for (const name of ['disk.img', 'install media.iso']) {
      await page.locator('.quick-input-list .monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^\\s*${name.replace('.', '\\.')}\\s*$`) }) })
        .filter({ hasText: /\/dev\/loop/ }).first().click();
    }
    await page.keyboard.press('Enter');
    await dialog.waitFor({ timeout: 20000 });
    assert.match((await dialog.textContent()) ?? '', /Detach 2 disks\?/);
    await dialog.locator('.monaco-button', { hasText: 'Detach 2 Disks' }).click();
    await toast(page, /Detached 2 disks: (disk\.img, install media\.iso|install media\.iso, disk\.img)\./).waitFor({ timeout: 30000 });
    await until('the loop devices to go', () => lib.loopsUnder(workspace).length === 0, 15000);
    await shot(page, '34-detached-2-disks');
  });
});
