// Inside a real VS Code: the inspector's time from opening an image to its facts (target < 200 ms), split into what is
// ours (the worker's inspection and the message to the page) and what VS Code spends creating the webview.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; }

describe('inspector open benchmark', function () {
  this.timeout(300_000);
  it('opens images in the inspector', async () => {
    const a = await vscode.extensions.getExtension<VdiskApi>('vdisk.vdisk')!.activate();
    const insp = a.inspector;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-bench-insp-'));
    const vhd = path.join(dir, 'dynamic.vhd');
    cp.execFileSync('qemu-img', ['create', '-q', '-f', 'vpc', vhd, '64M']);
    const src = path.join(dir, 'src'); fs.mkdirSync(src); fs.writeFileSync(path.join(src, 'a.txt'), 'a');
    const iso = path.join(dir, 'disc.iso');
    cp.execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, src], { stdio: 'ignore' });
    const posted: number[] = []; const drawn: number[] = [];
    try {
      await a.client.start();
      for (let i = 0; i < 13; i++) {
        await vscode.commands.executeCommand('workbench.action.closeAllEditors');
        const u = vscode.Uri.file(i % 2 ? iso : vhd);
        const t0 = performance.now();
        await vscode.commands.executeCommand('vscode.openWith', u, 'vdisk.inspector');
        for (let w = 0; w < 1000; w++) {
          const m = insp.lastRendered(u);
          if (m?.state === 'ready' && insp.lastPainted(u)?.revision === m.revision) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        if (i === 0) continue; // the first webview of a window also sets up VS Code's webview machinery
        drawn.push(performance.now() - t0);
        const t = insp.timings(u);
        if (t?.factsPostedMs !== undefined) posted.push(t.factsPostedMs);
      }
      console.log(`inspector: facts ready ${median(posted).toFixed(1)} ms after the document opened (ours); drawn ${median(drawn).toFixed(0)} ms after openWith, including VS Code creating the webview (target < 200 ms)`);
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
