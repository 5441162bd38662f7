// The first vertical slice as a user does it, in code-server with the packaged VSIX installed (smoke-test driver
// off, so toasts show): Explorer right-click disk.img -> Attach (Read-Only) -> "Attached Disks" shows it ->
// Detach from the tree -> gone. The ISO's read-write refusal is in new-user.test.ts (the Explorer offers an ISO read-only entries only).
// Every step leaves a screenshot in test/ui/screenshots/ and is cross-checked against `losetup -l`.
import * as assert from 'assert';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { attachedRow, explorerRow, lib, LoopDevice, menuItem, runMenuItem, shot, toast, uiInputs, useWorkbench } from './harness';

describe('Explorer attach / tree detach in code-server (packaged VSIX)', function () {
  this.timeout(120000);
  let page: Page;
  const { vsix, workspace } = uiInputs();
  const diskImg = path.join(workspace, 'disk.img');
  let device = '';   // the loop device disk.img got
  const ourRow = () => attachedRow(page, 'disk.img')
    .filter({ has: page.locator('.label-description', { hasText: new RegExp(`${device}(\\s|$)`) }) });

  useWorkbench({ folder: workspace, vsix: [vsix], smokeTestDriver: false }, (p) => { page = p; });

  async function rightClickInExplorer(name: string): Promise<void> {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+E');   // clicking the Explorer icon would toggle the sidebar closed
    const row = explorerRow(page, name);
    await row.waitFor({ timeout: 20000 });
    await row.click({ button: 'right' });
  }

  it('lists its commands in the palette under the "Virtual Disks" category', async () => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill('>Virtual Disks: ');
    const rows = page.locator('.quick-input-list .monaco-list-row .label-name');
    await rows.filter({ hasText: 'Virtual Disks: Attach Disk Image' }).first().waitFor();
    const labels = await rows.allTextContents();
    for (const title of ['Attach Disk Image (Read-Write)...', 'Attach Disk Image (Read-Only)...']) {
      assert.ok(labels.some((l) => l.trim() === `Virtual Disks: ${title}`), `palette lacks "Virtual Disks: ${title}" in ${JSON.stringify(labels)}`);
    }
    await shot(page, '00-command-palette');
    await page.keyboard.press('Escape');
  });

  it('offers Attach (Read-Only) on disk.img in the Explorer context menu', async () => {
    await rightClickInExplorer('disk.img');
    await menuItem(page, 'Attach Disk Image (Read-Only)...').waitFor();
    assert.strictEqual(await menuItem(page, 'Attach Disk Image (Read-Write)...').count(), 1, 'read-write Attach entry missing');
    await shot(page, '01-explorer-context-menu');
  });

  it('attaches disk.img read-only and shows it in "Attached Disks"', async () => {
    await runMenuItem(page, 'Attach Disk Image (Read-Only)...');
    const sidebarTitle = page.locator('.part.sidebar .composite.title');
    if (!/Virtual Disks/i.test((await sidebarTitle.textContent().catch(() => '')) || '')) {
      await page.locator('.part.activitybar .action-item a[aria-label*="Virtual Disks"]').click();
    }
    // the tree lists every loop device on the machine: pick our row by the device losetup reports for disk.img
    let loops: LoopDevice[] = [];
    for (const end = Date.now() + 30000; Date.now() < end; await page.waitForTimeout(200)) {
      loops = lib.loopsUnder(workspace).filter((l) => l.backFile === diskImg);
      if (loops.length) break;
    }
    assert.strictEqual(loops.length, 1, `losetup shows ${loops.length} device(s) for disk.img`);
    assert.strictEqual(loops[0].readOnly, true, `${loops[0].name} is not read-only`);
    device = loops[0].name;
    const row = ourRow();
    await row.waitFor({ timeout: 30000 });
    const description = (await row.locator('.label-description').textContent()) || '';
    assert.match(description, /read-only/);
    await shot(page, '02-attached-disks-tree');
  });

  it('detaches from the tree and the row disappears', async () => {
    const row = ourRow();
    await row.hover();
    const inline = row.locator('.actions .action-label[aria-label*="Detach Disk Image"]');
    await inline.waitFor({ timeout: 10000 });
    await shot(page, '03-detach-inline-action');
    await inline.click();
    await row.waitFor({ state: 'detached', timeout: 30000 });
    assert.deepStrictEqual(lib.loopsUnder(workspace), [], 'a loop device is still attached');
    await shot(page, '04-detached');
  });

  it('offers no Attach entry on a file that is not a disk image', async () => {
    await rightClickInExplorer('notes.txt');
    await page.locator('.monaco-menu .action-item').first().waitFor();
    assert.strictEqual(await menuItem(page, 'Attach Disk Image (Read-Write)...').count(), 0);
    assert.strictEqual(await menuItem(page, 'Attach Disk Image (Read-Only)...').count(), 0);
    await page.keyboard.press('Escape');
  });
});
