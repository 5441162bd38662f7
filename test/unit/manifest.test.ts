// The manifest and the code agree (model: vscode-cmake-tools' activation-contributions test).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

import { ANY, evaluateWhen } from '../support/when-clause';
import { CAPABILITY_KEYS, capabilityContext } from '../../src/host/capability-keys';
import { capabilities, Environment } from '../../src/worker/policy';

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
  'activeEditor', 'resourceLangId', 'editorLangId',
  // settings are context keys by themselves: the one-click Attach buttons show the command of the default access
  'config.vdisk.defaultAccess']);

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

  it('leaves activation to VS Code\'s implicit events, except opening a browsed image (no event is implied for a file system)', () => {
    assert.deepStrictEqual(pkg.activationEvents ?? [], ['onFileSystem:vdisk-image']);
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

  it('offers attach in the Explorer only for image files, case-insensitively, read-write never for ISO, and detach only for attached ones', () => {
    const ctx = contributes.menus['explorer/context'];
    const regexOf = (command: string) => {
      const when: string = ctx.find((e: { command: string }) => e.command === command).when;
      assert.match(when, /isWorkspaceTrusted/);
      return new RegExp(/resourceExtname =~ \/(.*?)\/i/.exec(when)![1], 'i');
    };
    const ro = regexOf('vdisk.attachReadOnly');
    const rw = regexOf('vdisk.attach');
    for (const ok of ['.vhd', '.VHDX', '.avhdx', '.Iso', '.img']) assert.ok(ro.test(ok), ok);
    for (const ok of ['.vhd', '.VHDX', '.avhdx', '.img']) assert.ok(rw.test(ok), ok);
    for (const no of ['.txt', '.vhdz', '.imgx', '.isoo']) assert.ok(!ro.test(no) && !rw.test(no), no);
    assert.ok(!rw.test('.iso') && !rw.test('.ISO'), 'an ISO gets only read-only entries');
    assert.strictEqual(ctx.find((e: { command: string }) => e.command === 'vdisk.detach').when, 'resourcePath in vdisk.attachedImages');
  });

  it('names the access mode in every attach title and ends titles that open a dialog with "..."', () => {
    const title = (id: string) => contributes.commands.find((c: { command: string }) => c.command === id).title as string;
    assert.strictEqual(title('vdisk.attach'), 'Attach Disk Image (Read-Write)...');
    assert.strictEqual(title('vdisk.attachReadOnly'), 'Attach Disk Image (Read-Only)...');
    for (const id of ['vdisk.detach', 'vdisk.detachAll', 'vdisk.inspect', 'vdisk.showChain', 'vdisk.createDiff']) assert.match(title(id), /\.\.\.$/, id);
    // the palette lists matches alphabetically: the single Detach must come before the one that detaches everything
    assert.ok(title('vdisk.detach') < title('vdisk.detachAll'), `${title('vdisk.detach')} sorts after ${title('vdisk.detachAll')}`);
    // "Mount Volume" for one volume, "Mount Volumes" for several
    assert.strictEqual(title('vdisk.mountVolume'), 'Mount Volume');
    assert.strictEqual(title('vdisk.mount'), 'Mount Volumes');
    const item = contributes.menus['view/item/context'];
    assert.match(item.find((e: { command: string }) => e.command === 'vdisk.mountVolume').when, /oneVolume/);
    assert.match(item.find((e: { command: string }) => e.command === 'vdisk.mount').when, /manyVolumes/);
    // buttons name their mode: the one-click entries use the read-only or read-write command, never "default access"
    for (const menu of ['view/title', 'view/item/context', 'explorer/context']) {
      assert.ok(!contributes.menus[menu].some((e: { command: string }) => e.command === 'vdisk.attachDefault'), `${menu} shows an attach without its mode`);
    }
  });

  it('describes settings in words', () => {
    for (const [key, p] of Object.entries(contributes.configuration.properties) as [string, { enum?: string[]; enumDescriptions?: string[]; enumItemLabels?: string[] }][]) {
      if (!p.enum) continue;
      assert.strictEqual(p.enumDescriptions?.length, p.enum.length, key);
      assert.strictEqual(p.enumItemLabels?.length, p.enum.length, `${key} shows raw enum values`);
      for (const d of p.enumDescriptions!) assert.doesNotMatch(d, /VirtDisk|readOnly|readWrite/, key);
    }
  });

  it('on Windows the Explorer offers Attach for VHD, VHDX and ISO but not .img (Windows cannot attach raw images)', () => {
    const evaluate = (when: string, ctx: Record<string, string | boolean>) => evaluateWhen(when, ctx); // no vdisk.* key: before activation
    const ctx = contributes.menus['explorer/context'];
    for (const command of ['vdisk.attach', 'vdisk.attachReadOnly']) {
      const when: string = ctx.find((e: { command: string }) => e.command === command).when;
      const on = (isWindows: boolean, ext: string) => evaluate(when, { isWorkspaceTrusted: true, explorerResourceIsFolder: false, isWindows, isLinux: !isWindows, resourceExtname: ext, 'vdisk.linuxFormats': !isWindows });
      for (const ext of ['.vhd', '.VHDX', '.avhdx']) assert.ok(on(true, ext) && on(false, ext), `${command} ${ext}`);
      // an ISO only ever gets read-only entries
      assert.strictEqual(on(true, '.iso') && on(false, '.iso'), command === 'vdisk.attachReadOnly', `${command} .iso`);
      assert.strictEqual(on(true, '.img'), false, `${command} offered for .img on Windows`);
      assert.strictEqual(on(false, '.img'), true, `${command} not offered for .img on Linux`);
      assert.strictEqual(on(true, '.qcow2'), false);
      assert.strictEqual(evaluate(when, { isWorkspaceTrusted: false, isWindows: true, resourceExtname: '.vhdx' }), false, 'untrusted');
    }
  });

  it('sets every context key its when-clauses use', () => {
    for (const when of whenClauses()) {
      for (const key of keysOf(when)) {
        if (BUILTIN_KEYS.has(key) || (CAPABILITY_KEYS as readonly string[]).includes(key)) continue;
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

  // Before activation no vdisk.* key is set: the entries a fresh window needs must show from built-in keys alone.
  const EXTS = ['.vhd', '.vhdx', '.avhdx', '.iso', '.img', '.qcow2', '.vmdk', '.vdi', '.VHDX'];
  const VIEWS = (contributes.views.vdisk as { id: string }[]).map((v) => v.id);
  /** Runtime state, not capability: there is no attached disk to detach and no tree item before activation. */
  const RUNTIME = new Set(['vdisk.attachedImages', 'config.vdisk.defaultAccess']);
  function before(platform: 'linux' | 'win32' | 'darwin', extra: Record<string, unknown> = {}) {
    return (over: Record<string, unknown>) => (k: string) => {
      if (k in over) return over[k];
      if (k in extra) return extra[k];
      switch (k) {
        case 'isLinux': return platform === 'linux';
        case 'isWindows': return platform === 'win32';
        case 'isMac': return platform === 'darwin';
        case 'isWorkspaceTrusted': return true;
        case 'explorerResourceIsFolder': return false;
        default: return undefined;
      }
    };
  }
  function canShow(when: string, ctx: (over: Record<string, unknown>) => (k: string) => unknown): boolean {
    for (const resourceExtname of EXTS) {
      for (const view of VIEWS) {
        for (const explorerResourceIsFolder of [false, true]) {
          // files on disk, and files inside a browsed image (the vdisk-image: file system)
          for (const resourceScheme of ['file', 'vdisk-image']) {
            // viewItem is a tree item's own value: any of ours may be asked for
            const get = ctx({ resourceExtname, view, explorerResourceIsFolder, resourceScheme, resourcePath: `/x/a${resourceExtname}` });
            if (evaluateWhen(when, (k) => (k === 'viewItem' ? ANY : get(k)))) return true;
          }
        }
      }
    }
    return false;
  }

  it('evaluates when-clauses as VS Code does (the checks below rely on it)', () => {
    assert.strictEqual(evaluateWhen('vdisk.x && isLinux', before('linux')({})), false);
    assert.strictEqual(evaluateWhen('!vdisk.x && isLinux', before('linux')({})), true);
    assert.strictEqual(evaluateWhen('a == b || c =~ /^\\.x$/i && d not in e', { a: 'b' }), true);
    assert.strictEqual(evaluateWhen('c =~ /^\\.x$/i && d not in e', { c: '.X', d: 'q', e: ['q'] }), false);
    assert.strictEqual(evaluateWhen('c =~ /^\\.x$/i && d not in e', { c: '.X', d: 'q' }), true);
    assert.strictEqual(evaluateWhen('v != none', {}), true);
  });

  it('shows every menu entry before activation from built-in keys alone (Linux and Windows)', () => {
    for (const [menu, entries] of Object.entries(contributes.menus) as [string, { command: string; when?: string }[]][]) {
      for (const e of entries) {
        if (!e.when || e.when === 'false' || keysOf(e.when).some((k) => RUNTIME.has(k))) continue;
        assert.ok(canShow(e.when, before('linux')) || canShow(e.when, before('win32')), `${menu}: ${e.command} ("${e.when}") cannot show before activation`);
      }
    }
  });

  it('after the worker answers, Attach is hidden where it cannot work and kept where it can', () => {
    const TOOLS = { 'qemu-storage-daemon': true, vhdimount: true, sudo: true, pkexec: false };
    const env = (o: Partial<Environment>): Environment => ({ platform: 'linux', user: { uid: 1000, name: 'ann' }, privileged: false, elevated: false, loop: true, fuse: true,
      tools: TOOLS, udisks: 'no udevd', polkitAgent: null, virtdisk: null, browse: false, userAllowOther: false, notes: [], ...o });
    const attach = contributes.menus['explorer/context'].find((e: { command: string }) => e.command === 'vdisk.attach').when as string;
    const attachRo = contributes.menus['explorer/context'].find((e: { command: string }) => e.command === 'vdisk.attachReadOnly').when as string;
    const win = capabilityContext(capabilities(env({ platform: 'win32', tools: {} })));
    const shows = (when: string, platform: 'linux' | 'win32', keys: Record<string, unknown>, ext: string) =>
      evaluateWhen(when, before(platform, keys)({ resourceExtname: ext }));
    assert.ok(!shows(attach, 'win32', win, '.img'), 'Attach on .img on Windows');
    assert.ok(!shows(attachRo, 'win32', win, '.IMG'), 'Attach Read-Only on .IMG on Windows');
    assert.ok(!shows(attach, 'win32', win, '.iso'), 'read-write Attach on .iso');
    assert.ok(shows(attachRo, 'win32', win, '.iso'));
    assert.ok(shows(attach, 'win32', win, '.avhdx'), 'Windows writes differencing disks');
    const linux = capabilityContext(capabilities(env({})));
    assert.ok(!shows(attach, 'linux', linux, '.avhdx'), 'read-write Attach on .avhdx on Linux');
    assert.ok(shows(attachRo, 'linux', linux, '.avhdx'), 'differencing VHDX attaches read-only on Linux (vdisk\'s own FUSE server)');
    assert.ok(shows(attachRo, 'linux', linux, '.vhdx'), 'a .vhdx may be dynamic or fixed');
    assert.ok(shows(attach, 'linux', linux, '.qcow2'), 'qcow2 with elevation');
    assert.ok(shows(attach, 'linux', linux, '.vhd'), 'fixed and dynamic VHDs are writable');
    assert.strictEqual(linux['vdisk.elevation'], 'sudo');
  });
});
