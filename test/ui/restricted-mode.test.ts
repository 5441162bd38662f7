// Restricted Mode, in code-server with workspace trust ON and the packaged VSIX: the sample workspace is not
// trusted (the trust prompt, when shown, is answered "No"), so the Explorer context menu of disk.img offers
// Inspect but no Attach, the palette has no Attach commands, and the empty "Attached Disks" view says why.
import * as assert from 'assert';
import type { Page } from 'playwright-core';
import { explorerRow, lib, LoopDevice, menuItem, shot, uiInputs, useWorkbench } from './harness';

const listLoops = (): LoopDevice[] => lib.listLoops();

describe('Restricted Mode (workspace trust on, packaged VSIX)', function () {
  this.timeout(120000);
  let page: Page;
  const { vsix, workspace } = uiInputs();
  let prompted = false;

  useWorkbench({ folder: workspace, vsix: [vsix], smokeTestDriver: false, workspaceTrust: true,
    settings: { 'workbench.secondarySideBar.defaultVisibility': 'hidden' } }, (p) => { page = p; });

  before(async () => {
    // VS Code asks once per folder whether to trust it; "No" keeps Restricted Mode
    const no = page.locator('.monaco-dialog-box .monaco-button', { hasText: /^\s*No, I don.t trust the authors\s*$/ });
    prompted = await no.waitFor({ timeout: 10000 }).then(() => true, () => false);
    if (prompted) {
      await no.click();
      await page.locator('.monaco-dialog-box').waitFor({ state: 'detached', timeout: 10000 });
    }
  });

  it('opens the sample workspace in Restricted Mode', async () => {
    console.log(`      (trust prompt ${prompted ? 'shown and answered "No"' : 'not shown'})`);
    await page.locator('.part.statusbar .statusbar-item', { hasText: 'Restricted Mode' }).waitFor({ timeout: 20000 });
  });

  it('offers Inspect but no Attach entries on disk.img in the Explorer context menu', async () => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+E');
    const row = explorerRow(page, 'disk.img');
    await row.waitFor({ timeout: 20000 });
    await row.click({ button: 'right' });
    await menuItem(page, 'Inspect Disk Image...').waitFor({ timeout: 10000 });
    assert.strictEqual(await menuItem(page, 'Attach Disk Image (Read-Write)...').count(), 0, '"Attach Disk Image (Read-Write)..." is offered in Restricted Mode');
    assert.strictEqual(await menuItem(page, 'Attach Disk Image (Read-Only)...').count(), 0, '"Attach Disk Image (Read-Only)..." is offered in Restricted Mode');
    assert.strictEqual(await menuItem(page, 'Create Differencing Disk...').count(), 0);
    // browsing reads the image without attaching or changing it: offered in Restricted Mode too
    assert.strictEqual(await menuItem(page, 'Browse Disk Image').count(), 1, '"Browse Disk Image" is missing in Restricted Mode');
    await shot(page, '22-restricted-explorer-menu');
    await page.keyboard.press('Escape');
  });

  it('does not offer the Attach commands in the palette', async () => {
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill('>Virtual Disks: ');
    const rows = page.locator('.quick-input-list .monaco-list-row .label-name');
    await rows.filter({ hasText: 'Virtual Disks: Inspect Disk Image...' }).first().waitFor({ timeout: 20000 });
    const labels = (await rows.allTextContents()).map((l) => l.trim());
    for (const title of ['Attach Disk Image (Read-Write)...', 'Attach Disk Image (Read-Only)...', 'Create Differencing Disk...']) {
      assert.ok(!labels.includes(`Virtual Disks: ${title}`), `palette offers "Virtual Disks: ${title}" in Restricted Mode: ${JSON.stringify(labels)}`);
    }
    assert.ok(labels.includes('Virtual Disks: Detach Every Disk Image...'), `palette lacks Detach Every Disk Image...: ${JSON.stringify(labels)}`);
    // typed out in full, the palette offers only look-alikes (Detach, Inspect), never Attach itself
    await input.fill('>Virtual Disks: Attach Disk Image');
    await rows.filter({ hasText: 'Virtual Disks: Detach Disk Image' }).first().waitFor({ timeout: 10000 });
    const typed = (await rows.allTextContents()).map((l) => l.trim());
    assert.ok(!typed.some((l) => /^Virtual Disks: Attach Disk Image/.test(l)), `palette offers Attach for the typed title: ${JSON.stringify(typed)}`);
    await shot(page, '23-restricted-palette');
    await page.keyboard.press('Escape');
  });

  it('says in the empty "Attached Disks" view that attaching is disabled in Restricted Mode', async () => {
    const sidebarTitle = page.locator('.part.sidebar .composite.title');
    if (!/Virtual Disks/i.test((await sidebarTitle.textContent().catch(() => '')) || '')) {
      await page.locator('.part.activitybar .action-item a[aria-label*="Virtual Disks"]').click();
    }
    const pane = page.locator('.part.sidebar .pane').filter({ has: page.locator('.pane-header', { hasText: /Attached Disks/i }) });
    const welcome = pane.locator('.welcome-view-content');
    const shown = await welcome.waitFor({ timeout: 20000 }).then(() => true, () => false);
    // the tree lists every loop device on the machine: another tool's disk hides the welcome text
    assert.ok(shown, `no welcome text in "Attached Disks" (loop devices on this machine: ${JSON.stringify(listLoops())})`);
    const text = (await welcome.textContent()) || '';
    assert.match(text, /Attaching images is disabled in Restricted Mode\./);
    assert.match(text, /Browsing still works/);
    assert.doesNotMatch(text, /Attach Disk Image\.\.\./, 'the trusted welcome (with its Attach button) is shown');
    await welcome.getByRole('button', { name: 'Manage Workspace Trust' }).waitFor();
    // no Attach / Create in the view's title bar either
    const title = page.locator('.part.sidebar .pane-header', { hasText: /Attached Disks/i });
    await title.hover();
    assert.strictEqual(await title.locator('.action-label[aria-label^="Attach Disk Image"]').count(), 0, 'the view title offers Attach');
    await shot(page, '21-restricted-mode');
  });
});
