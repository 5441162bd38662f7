// The inspector suites' images and helpers: the images (made with qemu-img and xorriso in a folder of the test
// workspace, removed after with whatever the tests left attached), and opening an image until its page drew the facts.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';
import type { InspectorProvider } from '../../src/views/inspector/provider';
import type { ReadyModel } from '../../src/views/inspector/messages';
import { EXT_ID } from './host';
import { until } from './poll';

function inspectorOf(a: VdiskApi): InspectorProvider {
  const i = (a as VdiskApi & { inspector?: InspectorProvider }).inspector;
  assert.ok(i, 'VdiskApi has no `inspector`: activate() must return registerInspector(...)\'s provider');
  return i;
}

function run(cmd: string, args: string[]): void {
  cp.execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface InspectorFixture {
  a: VdiskApi;
  insp: InspectorProvider;
  dir: string;
  /** dist/cli.js, for attaches by "another tool". */
  cli: string;
  files: Record<string, string>;
  uri(name: string): vscode.Uri;
  /** Opens the inspector and waits until the page reports the facts drawn; returns the model and the time taken. */
  open(name: string): Promise<{ model: ReadyModel; ms: number }>;
  ready(name: string): ReadyModel;
  fact(m: ReadyModel, label: string): string | undefined;
  action(m: ReadyModel, id: string): ReadyModel['actions'][number];
}

/** Call inside a describe: makes the images in `folder` of the workspace before its tests, removes them after. */
export function useInspectorFixture(folder: string): InspectorFixture {
  let a!: VdiskApi;
  let insp!: InspectorProvider;
  let dir = '';
  let cli = '';
  const files: Record<string, string> = {};
  const uri = (name: string) => vscode.Uri.file(files[name]);

  async function open(name: string): Promise<{ model: ReadyModel; ms: number }> {
    const u = uri(name);
    const t0 = performance.now();
    let paintedAt = 0;
    // the first facts drawn (a page shown again first redraws its saved model, then gets the current one)
    const sub = insp.onDidPaint((e) => {
      if (e.uri.toString() === u.toString() && e.state === 'ready' && !paintedAt && e.revision === insp.lastRendered(u)?.revision) paintedAt = performance.now();
    });
    try {
      await vscode.commands.executeCommand('vscode.openWith', u, 'vdisk.inspector');
      // a page that was already open and up to date draws nothing new
      const upToDate = () => { const m = insp.lastRendered(u); return m?.state === 'ready' && insp.lastPainted(u)?.revision === m.revision; };
      await until(`the inspector page of ${name} to draw its facts`, () => paintedAt > 0 || upToDate());
      if (!paintedAt) paintedAt = performance.now();
    } finally {
      sub.dispose();
    }
    const model = await until('the page to draw the latest model', () => {
      const m = insp.lastRendered(u);
      return m?.state === 'ready' && insp.lastPainted(u)?.revision === m.revision ? m : undefined;
    });
    return { model, ms: paintedAt - t0 };
  }

  function ready(name: string): ReadyModel {
    const m = insp.lastRendered(uri(name));
    assert.ok(m?.state === 'ready', `${name}: state ${m?.state}`);
    return m;
  }

  const fact = (m: ReadyModel, label: string) => m.facts.find((f) => f.label === label)?.value;
  const action = (m: ReadyModel, id: string) => m.actions.find((x) => x.id === id)!;

  before(async () => {
    const ext = vscode.extensions.getExtension<VdiskApi>(EXT_ID);
    assert.ok(ext, `${EXT_ID} is not installed`);
    a = await ext.activate();
    insp = inspectorOf(a);
    cli = path.join(ext.extensionPath, 'dist', 'cli.js');
    const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(ws, 'the test workspace has a folder');
    dir = path.join(ws, folder);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const f = (n: string) => (files[n] = path.join(dir, n));
    run('qemu-img', ['create', '-q', '-f', 'vpc', f('dynamic.vhd'), '64M']);
    const src = path.join(dir, 'iso-src'); fs.mkdirSync(src); fs.writeFileSync(path.join(src, 'readme.txt'), 'inspector test');
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'INSPECTOR', '-o', f('disc.iso'), src]);
    fs.copyFileSync(files['dynamic.vhd'], f('broken.vhd'));
    fs.truncateSync(files['broken.vhd'], 1000);   // cut inside the dynamic header: footer copy only
    run('qemu-img', ['create', '-q', '-f', 'vpc', f('base.vhd'), '32M']);
    f('child.vhd');
    f('orphan.vhd');
    f('gone.vhd');
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await a.refresher.now();
    for (const d of a.disks.disks.filter((x) => x.image?.startsWith(dir + path.sep))) {
      cp.spawnSync(process.execPath, [cli, 'detach', d.device]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  return {
    get a() { return a; }, get insp() { return insp; }, get dir() { return dir; }, get cli() { return cli; },
    files, uri, open, ready, fact, action,
  };
}
