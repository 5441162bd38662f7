// Browsing a VHDX as a user does it, in code-server with the packaged VSIX: Explorer right-click data.vhdx ->
// Browse Disk Image -> the image's files appear as a read-only folder -> open a file from it -> Extract... a folder
// into the workspace (the simple folder dialog) -> the files land on disk, byte for byte. Nothing is attached.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Page } from 'playwright-core';
import { explorerRow, lib, menuItem, runMenuItem, shot, toast, uiInputs, useWorkbench } from './harness';

describe('Browse a VHDX in code-server (packaged VSIX)', function () {
  this.timeout(180000);
  let page: Page;
  const { vsix, workspace } = uiInputs();
  const work = path.join(workspace, 'browse-ui');
  const src = path.join(work, 'src');
  const image = path.join(workspace, 'data.vhdx');
  const outDir = path.join(workspace, 'extracted');
  // a multi-root workspace: adding the image's folder to a single-folder window makes code-server reload into an
  // untitled workspace, which sometimes comes back without its folders
  const wsFile = path.join(workspace, 'browse-ui.code-workspace');

  before(() => {
    fs.mkdirSync(path.join(src, 'notes'), { recursive: true });
    fs.writeFileSync(path.join(src, 'notes', 'hello.md'), '# Hello from inside data.vhdx\n\nThis file was read through the block layer by 7-Zip.\n');
    fs.writeFileSync(path.join(src, 'notes', 'numbers.txt'), [...Array(500).keys()].join('\n'));
    const raw = path.join(work, 'data.raw');
    cp.execFileSync('truncate', ['-s', '16M', raw]);
    cp.execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'uidata', '-d', src, raw]);
    cp.execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, image]);
    fs.rmSync(raw);
    fs.writeFileSync(wsFile, JSON.stringify({ folders: [{ path: workspace }] }));
  });
  useWorkbench({ folder: wsFile, vsix: [vsix], smokeTestDriver: false }, (p) => { page = p; });
  after(() => {
    for (const p of [work, image, outDir, wsFile]) fs.rmSync(p, { recursive: true, force: true });
  });

  it('offers Browse Disk Image on data.vhdx and opens its files as a read-only folder', async () => {
    await page.keyboard.press('Control+Shift+E');
    const row = explorerRow(page, 'data.vhdx');
    await row.waitFor({ timeout: 20000 });
    await row.click({ button: 'right' });
    await menuItem(page, 'Browse Disk Image').waitFor();
    await shot(page, '30-browse-context-menu');
    await runMenuItem(page, 'Browse Disk Image');
    const root = page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'data.vhdx (read-only)' });
    await root.waitFor({ timeout: 60000 });
    assert.strictEqual(lib.loopsUnder(workspace).length, 0, 'browsing attached something');
  });

  it('opens a file from the image in a normal, read-only editor', async () => {
    await page.keyboard.press('Control+Shift+E');
    const root = page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'data.vhdx (read-only)' });
    const notes = explorerRow(page, 'notes');
    for (let i = 0; i < 5 && !(await notes.isVisible()); i++) {
      if ((await root.getAttribute('aria-expanded')) !== 'true') await root.locator('.monaco-tl-twistie').click();
      await notes.waitFor({ timeout: 5000 }).catch(() => undefined);
    }
    await notes.waitFor({ timeout: 30000 });
    await notes.click();
    const hello = explorerRow(page, 'hello.md');
    await hello.waitFor({ timeout: 30000 });
    await hello.dblclick();
    const editor = page.locator('.editor-instance .view-lines');
    await editor.filter({ hasText: 'Hello from inside data.vhdx' }).waitFor({ timeout: 30000 });
    await shot(page, '31-browse-file-open');
    // typing changes nothing: the file system is read-only
    await editor.click();
    await page.keyboard.type('typed');
    assert.ok(!(await editor.textContent() || '').includes('typed'), 'the editor of a file inside an image accepted typing');
  });

  it('extracts a folder with Extract... into a folder picked in the dialog', async () => {
    fs.mkdirSync(outDir, { recursive: true });
    await page.keyboard.press('Control+Shift+E');
    const notes = explorerRow(page, 'notes');
    await notes.click({ button: 'right' });
    await menuItem(page, 'Extract...').waitFor();
    await shot(page, '32-browse-extract-menu');
    await runMenuItem(page, 'Extract...');
    // code-server's simple folder dialog: type the path, accept
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ timeout: 20000 });
    // the dialog fills in its start folder a moment after it shows: type over it only once it has, and check
    const target = `${outDir}/`;
    for (let i = 0; i < 20 && (await input.inputValue()) === ''; i++) await page.waitForTimeout(250);
    for (let i = 0; i < 5 && (await input.inputValue()) !== target; i++) { await input.fill(target); await page.waitForTimeout(300); }
    assert.strictEqual(await input.inputValue(), target);
    await page.keyboard.press('Enter');
    await toast(page, /Extracted 2 file\(s\)/).waitFor({ timeout: 60000 });
    await shot(page, '33-browse-extracted');
    for (const f of ['hello.md', 'numbers.txt']) {
      assert.ok(fs.readFileSync(path.join(outDir, 'notes', f)).equals(fs.readFileSync(path.join(src, 'notes', f))), `${f} differs`);
    }
  });
});
