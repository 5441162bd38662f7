// The manifest and the code agree (model: vscode-cmake-tools' activation-contributions test).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const contributes = pkg.contributes;
const declared: string[] = contributes.commands.map((c: { command: string }) => c.command);

function srcFiles(dir = path.join(ROOT, 'src')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? srcFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
}
const allSource = srcFiles().map((f) => fs.readFileSync(f, 'utf8')).join('\n');

/** Context keys VS Code itself sets, as used in our when-clauses. */
const BUILTIN_KEYS = new Set(['view', 'viewItem', 'resourceExtname', 'resourcePath', 'resourceScheme', 'explorerResourceIsFolder',
  'isWorkspaceTrusted', 'isLinux', 'isWindows', 'isMac', 'false', 'true', 'activeCustomEditorId', 'resourceFilename', 'listMultiSelection',
  'activeEditor', 'resourceLangId', 'editorLangId']);

function whenClauses(): string[] {
  const out: string[] = [];
  for (const entries of Object.values(contributes.menus ?? {}) as { when?: string }[][]) for (const e of entries) if (e.when) out.push(e.when);
  for (const w of contributes.viewsWelcome ?? []) if (w.when) out.push(w.when);
  for (const c of contributes.commands) if (c.enablement) out.push(c.enablement);
  return out;
}

function keysOf(when: string): string[] {
  const stripped = when.replace(/\/(?:\\.|[^/])*\/[a-z]*/g, ' ').replace(/'[^']*'/g, ' ').replace(/(==|!=)\s*[\w.-]+/g, ' ');
  return [...stripped.matchAll(/[A-Za-z][\w.]*/g)].map((m) => m[0])
    .filter((k) => !['in', 'not'].includes(k));
}

describe('manifest', () => {
  it('names the extension vdisk and runs in the workspace', () => {
    assert.strictEqual(pkg.name, 'vdisk');
    assert.deepStrictEqual(pkg.extensionKind, ['workspace']);
    assert.strictEqual(pkg.main, './dist/extension.js');
  });

  it('leaves activation to VS Code\'s implicit events', () => {
    assert.deepStrictEqual(pkg.activationEvents ?? [], []);
  });

  it('supports untrusted workspaces only in a limited way, with the reason', () => {
    assert.strictEqual(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
    assert.match(pkg.capabilities.untrustedWorkspaces.description, /Restricted Mode/);
  });

  it('gives every command the "Virtual Disks" category and a title', () => {
    for (const c of contributes.commands) {
      assert.strictEqual(c.category, 'Virtual Disks', c.command);
      assert.ok(c.title, c.command);
    }
  });

  it('declares exactly the commands the registration table registers', () => {
    const table = fs.readFileSync(path.join(ROOT, 'src/commands/index.ts'), 'utf8');
    const registered = [...table.matchAll(/^\s+'(vdisk\.[A-Za-z]+)':/gm)].map((m) => m[1]);
    assert.deepStrictEqual([...registered].sort(), [...declared].sort());
  });

  it('declares every command used in a menu', () => {
    for (const [menu, entries] of Object.entries(contributes.menus) as [string, { command: string }[]][]) {
      for (const e of entries) assert.ok(declared.includes(e.command), `${menu}: ${e.command} is not declared`);
    }
  });

  it('hides tree-only commands from the palette and gates attach on trust', () => {
    const palette = new Map(contributes.menus.commandPalette.map((e: { command: string; when: string }) => [e.command, e.when]));
    assert.strictEqual(palette.get('vdisk.revealImage'), 'false');
    assert.strictEqual(palette.get('vdisk.copyDevicePath'), 'false');
    assert.match(String(palette.get('vdisk.attach')), /isWorkspaceTrusted/);
  });

  it('offers attach in the Explorer only for image files, case-insensitively, and detach only for attached ones', () => {
    const ctx = contributes.menus['explorer/context'];
    const attachWhen: string = ctx.find((e: { command: string }) => e.command === 'vdisk.attach').when;
    for (const ext of ['vhd', 'vhdx', 'avhdx', 'iso', 'img']) assert.ok(attachWhen.includes(ext), ext);
    assert.match(attachWhen, /\/i/);
    assert.match(attachWhen, /isWorkspaceTrusted/);
    const regex = /resourceExtname =~ \/(.*?)\/i/.exec(attachWhen)![1];
    const re = new RegExp(regex, 'i');
    for (const ok of ['.vhd', '.VHDX', '.avhdx', '.Iso', '.img']) assert.ok(re.test(ok), ok);
    for (const no of ['.txt', '.vhdz', '.imgx', '.isoo']) assert.ok(!re.test(no), no);
    assert.strictEqual(ctx.find((e: { command: string }) => e.command === 'vdisk.detach').when, 'resourcePath in vdisk.attachedImages');
  });

  it('on Windows the Explorer offers Attach for VHD, VHDX and ISO but not .img (Windows cannot attach raw images)', () => {
    // a small evaluator for the forms our menus use: a || b, a && b, !key, key, key =~ /re/flags
    const evaluate = (when: string, ctx: Record<string, string | boolean>) => when.split(' || ').some((branch) => branch.split(' && ').every((term) => {
      const t = term.trim();
      const m = /^(\w+) =~ \/(.*)\/([a-z]*)$/.exec(t);
      if (m) return new RegExp(m[2], m[3]).test(String(ctx[m[1]] ?? ''));
      return t.startsWith('!') ? !ctx[t.slice(1)] : !!ctx[t];
    }));
    const ctx = contributes.menus['explorer/context'];
    for (const command of ['vdisk.attach', 'vdisk.attachReadOnly']) {
      const when: string = ctx.find((e: { command: string }) => e.command === command).when;
      const on = (isWindows: boolean, ext: string) => evaluate(when, { isWorkspaceTrusted: true, explorerResourceIsFolder: false, isWindows, isLinux: !isWindows, resourceExtname: ext, 'vdisk.linuxFormats': !isWindows });
      for (const ext of ['.vhd', '.VHDX', '.avhdx', '.iso']) assert.ok(on(true, ext) && on(false, ext), `${command} ${ext}`);
      assert.strictEqual(on(true, '.img'), false, `${command} offered for .img on Windows`);
      assert.strictEqual(on(false, '.img'), true, `${command} not offered for .img on Linux`);
      assert.strictEqual(on(true, '.qcow2'), false);
      assert.strictEqual(evaluate(when, { isWorkspaceTrusted: false, isWindows: true, resourceExtname: '.vhdx' }), false, 'untrusted');
    }
  });

  it('sets every context key its when-clauses use', () => {
    for (const when of whenClauses()) {
      for (const key of keysOf(when)) {
        if (BUILTIN_KEYS.has(key)) continue;
        assert.ok(allSource.includes(`'setContext', '${key}'`), `context key ${key} (in "${when}") is never set by the code`);
      }
    }
  });

  it('points at files that exist', () => {
    for (const c of contributes.viewsContainers.activitybar) assert.ok(fs.existsSync(path.join(ROOT, c.icon)), c.icon);
    for (const g of contributes.grammars) {
      const grammar = JSON.parse(fs.readFileSync(path.join(ROOT, g.path), 'utf8'));
      assert.strictEqual(grammar.scopeName, g.scopeName);
    }
  });

  it('pins engines.vscode no newer than @types/vscode', () => {
    const types = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/@types/vscode/package.json'), 'utf8')).version;
    assert.strictEqual(pkg.engines.vscode, `^${types}`);
  });
});
