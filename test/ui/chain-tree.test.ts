// "Attached Disks" with a 3-deep differencing chain, in code-server with the packaged VSIX: base.vhd (dynamic,
// holding an ext4 file system) <- middle.vhd <- top.vhd written by the project's CLI; Explorer right-click top.vhd
// -> Attach (Read-Only) -> expand the disk row: top -> middle -> base with their descriptions, plus the volume ->
// Detach inline -> no loop device, no FUSE mount of vdisk's server and no registry record is left. Cross-checked with
// `vdisk list --json`, `losetup` and /proc/self/mountinfo.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Locator, Page } from 'playwright-core';
import { explorerRow, lib, LoopDevice, runMenuItem, shot, uiInputs, useWorkbench, vdiskCli } from './harness';

// scripts/code-server-lib.js has it; harness.ts's typed view of the lib does not list it
const listLoops = (): LoopDevice[] => lib.listLoops();

interface ListedDisk { device: string; image?: string; readOnly: boolean; engine: string; chain?: { path: string }[] }
interface Row { level: number; label: string; description: string }


const listDisks = (): ListedDisk[] => JSON.parse(vdiskCli('list', '--json')) as ListedDisk[];

/** FUSE mount points (mountinfo field 5, octal escapes such as \040 decoded). */
function fuseMounts(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => / - fuse(\.\S+)? /.test(l))
    .map((l) => l.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
}

describe('dependency chain in the "Attached Disks" tree (packaged VSIX)', function () {
  this.timeout(120000);
  let page: Page;
  const { vsix, workspace } = uiInputs();
  const chainDir = path.join(workspace, 'layers');
  const top = path.join(chainDir, 'top.vhd');
  let device = '';
  let fuseMount = '';   // the file vdisk's FUSE server serves top.vhd as: the loop device's backing file

  const ourDisks = () => listDisks().filter((d) => d.image && d.image.startsWith(workspace + path.sep));
  const pane = () => page.locator('.part.sidebar .pane').filter({ has: page.locator('.pane-header', { hasText: /Attached Disks/i }) });
  const diskRow = (): Locator => pane().locator('.monaco-list-row[aria-level="1"]')
    .filter({ has: page.locator('.label-name', { hasText: /^\s*top\.vhd\s*$/ }) })
    .filter({ has: page.locator('.label-description', { hasText: new RegExp(`^\\s*${device}\\s`) }) });

  /** The rows under our disk row, in order, until the next top-level row. */
  async function rowsUnderDisk(): Promise<Row[]> {
    const rows = pane().locator('.monaco-list-row');
    const out: Row[] = [];
    let inside = false;
    for (let i = 0, n = await rows.count(); i < n; i++) {
      const r = rows.nth(i);
      const row: Row = { level: Number(await r.getAttribute('aria-level')), label: ((await r.locator('.label-name').textContent()) || '').trim(),
        description: ((await r.locator('.label-description').textContent().catch(() => '')) || '').trim() };
      if (row.level === 1) {
        if (inside) break;
        inside = row.label === 'top.vhd' && row.description.startsWith(`${device} `);
      } else if (inside) out.push(row);
    }
    return out;
  }

  before(async () => {
    fs.mkdirSync(chainDir, { recursive: true });
    // base.vhd: a dynamic VHD holding an ext4 file system, so the disk also shows a volume
    const raw = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-ui-raw-')), 'base.raw');
    try {
      fs.writeFileSync(raw, '');
      fs.truncateSync(raw, 64 * 1024 * 1024);
      cp.execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'chain-base', raw]);
      cp.execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vpc', raw, path.join(chainDir, 'base.vhd')]);
    } finally {
      fs.rmSync(path.dirname(raw), { recursive: true, force: true });
    }
    vdiskCli('create-diff', path.join(chainDir, 'base.vhd'), path.join(chainDir, 'middle.vhd'));
    vdiskCli('create-diff', path.join(chainDir, 'middle.vhd'), top);
  });

  useWorkbench({ folder: workspace, vsix: [vsix], smokeTestDriver: false,
    settings: { 'workbench.secondarySideBar.defaultVisibility': 'hidden' } }, (p) => { page = p; });

  after(async () => {
    // a session attach ends with its worker, but a failed run must not leave the vhdimount-backed device behind
    // (the runner's leftover check only sees loop devices whose backing file is in the workspace)
    for (const d of ourDisks()) {
      try { vdiskCli('detach', d.device); console.error(`      cleanup: detached ${d.device} (${d.image})`); } catch (e) { console.error(`      cleanup: ${(e as Error).message}`); }
    }
    fs.rmSync(chainDir, { recursive: true, force: true });
  });

  it('attaches top.vhd read-only from the Explorer through vdisk\'s own FUSE server', async () => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+E');
    const folder = explorerRow(page, 'layers');
    await folder.waitFor({ timeout: 20000 });
    if ((await folder.getAttribute('aria-expanded')) !== 'true') await folder.click();
    const row = explorerRow(page, 'top.vhd');
    await row.waitFor({ timeout: 20000 });
    await row.click({ button: 'right' });
    await runMenuItem(page, 'Attach Disk Image (Read-Only)...');
    let disks: ListedDisk[] = [];
    for (const end = Date.now() + 30000; Date.now() < end && !disks.length; await page.waitForTimeout(200)) {
      disks = ourDisks().filter((d) => d.image === top);
    }
    assert.strictEqual(disks.length, 1, `vdisk list shows ${disks.length} attachment(s) of top.vhd`);
    assert.strictEqual(disks[0].readOnly, true);
    assert.strictEqual(disks[0].engine, 'vdisk-fuse');
    assert.deepStrictEqual((disks[0].chain || []).map((l) => path.basename(l.path)), ['top.vhd', 'middle.vhd', 'base.vhd']);
    device = disks[0].device;
    const loop = listLoops().find((l) => l.name === device);
    assert.ok(loop && loop.readOnly, `losetup does not show ${device} read-only: ${JSON.stringify(loop)}`);
    fuseMount = loop.backFile; // the server mounts the one file it serves
    assert.ok(fuseMounts().includes(fuseMount), `${device} sits on ${loop.backFile}, which is not a FUSE mount`);
  });

  it('shows the layers (middle, base) and the volume under the disk row, grouped, without engine jargon', async () => {
    const sidebarTitle = page.locator('.part.sidebar .composite.title');
    if (!/Virtual Disks/i.test((await sidebarTitle.textContent().catch(() => '')) || '')) {
      await page.locator('.part.activitybar .action-item a[aria-label*="Virtual Disks"]').click();
    }
    const disk = diskRow();
    await disk.waitFor({ timeout: 30000 });
    assert.match((await disk.locator('.label-description').textContent()) || '', new RegExp(`^\\s*${device} · read-only · session\\s*$`));
    if ((await disk.getAttribute('aria-expanded')) !== 'true') await disk.locator('.monaco-tl-twistie').click();
    await pane().locator('.monaco-list-row[aria-level="3"]', { hasText: 'chain-base' }).waitFor({ timeout: 20000 });
    const rows = await rowsUnderDisk();
    assert.deepStrictEqual(rows, [
      { level: 2, label: 'Layers', description: '2 parents' },
      { level: 3, label: 'middle.vhd', description: 'parent · vhd differencing' },
      { level: 3, label: 'base.vhd', description: 'ancestor 2 · vhd dynamic' },
      { level: 2, label: 'Volumes', description: '1' },
      { level: 3, label: 'chain-base', description: 'ext4 · 64 MiB · not mounted' },
    ]);
    // widen the side bar so the picture shows the descriptions whole (drag the sash on its right edge)
    const bar = await page.locator('.part.sidebar').boundingBox();
    if (bar) {
      await page.mouse.move(bar.x + bar.width + 2, bar.y + bar.height / 2);
      await page.mouse.down();
      await page.mouse.move(bar.x + bar.width + 300, bar.y + bar.height / 2, { steps: 5 });
      await page.mouse.up();
      await page.mouse.move(bar.x + bar.width + 600, bar.y + bar.height / 2);   // off the sash: no highlight in the picture
    }
    assert.strictEqual(await disk.getAttribute('aria-expanded'), 'true');
    assert.strictEqual((await rowsUnderDisk()).length, 5, 'the chain collapsed before the picture');
    await shot(page, '20-tree-chain-expanded');
  });

  it('detaches from the inline action and leaves no device, FUSE mount or record behind', async () => {
    const disk = diskRow();
    await disk.hover();
    const inline = disk.locator('.actions .action-label[aria-label*="Detach Disk Image"]');
    await inline.waitFor({ timeout: 10000 });
    await inline.click();
    await disk.waitFor({ state: 'detached', timeout: 30000 });
    assert.deepStrictEqual(ourDisks(), [], 'vdisk list still shows a disk from the workspace');
    assert.ok(!listLoops().some((l) => l.name === device && l.backFile.startsWith(fuseMount)), `${device} is still on ${fuseMount}`);
    const left = fuseMounts().filter((m) => m === fuseMount || m.startsWith(workspace + path.sep));
    assert.deepStrictEqual(left, [], 'the FUSE mount of the chain is still mounted');
    assert.ok(!fs.existsSync(path.dirname(fuseMount)), `the engine's scratch folder ${path.dirname(fuseMount)} is still there`);
    assert.strictEqual(await pane().locator('.monaco-list-row', { hasText: 'middle.vhd' }).count(), 0, 'chain rows are still shown');
  });
});
