// The format table (src/common/formats.ts) is the one list of formats: the registry has a descriptor per row, and
// package.json's Explorer menus and the inspector's editor selector offer exactly the table's extensions.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { extensionsOf, FORMAT_TABLE, FormatRow, IMAGE_FORMATS } from '../../src/common/formats';
import { DETECTION_ORDER, FORMAT_REGISTRY } from '../../src/formats/registry';

const ROOT = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** Every extension in the table, and some that no format has: what a when-clause must accept and refuse. */
const candidates = [...new Set([...extensionsOf(() => true), 'txt', 'vhdz', 'qcow', 'imgx', 'vhdx.bak', 'json'])];

type Platform = 'linux' | 'windows' | 'mac';
/** The context keys our Explorer when-clauses use, as each platform sets them (a trusted workspace, a file). */
const CONTEXT: Record<Platform, Record<string, boolean>> = {
  linux: { isWorkspaceTrusted: true, explorerResourceIsFolder: false, isWindows: false, isLinux: true },
  windows: { isWorkspaceTrusted: true, explorerResourceIsFolder: false, isWindows: true, isLinux: false },
  mac: { isWorkspaceTrusted: true, explorerResourceIsFolder: false, isWindows: false, isLinux: false },
};

/** Evaluates a when-clause of `a && b || c` form with `resourceExtname =~ /re/` and (negated) keys; anything else fails. */
function shows(when: string, platform: Platform, ext: string): boolean {
  return when.split('||').some((disjunct) => disjunct.split('&&').every((atom) => {
    const a = atom.trim();
    const m = /^resourceExtname =~ \/((?:\\.|[^/])*)\/([a-z]*)$/.exec(a);
    if (m) return new RegExp(m[1], m[2]).test(`.${ext}`);
    // the capability report's lists (vdisk.noAttach...) are empty until the worker answers: nothing is taken away
    if (/^resourceExtname not in vdisk\.[\w.]+$/.test(a)) return true;
    const key = a.replace(/^!/, '');
    assert.ok(key in CONTEXT[platform], `unexpected term in a when-clause: ${a}`);
    return a.startsWith('!') ? !CONTEXT[platform][key] : CONTEXT[platform][key];
  }));
}

/** The extensions (of the table's and some no format has) the Explorer offers `command` on, per platform. */
function offered(command: string): Record<Platform, string[]> {
  const entries = (pkg.contributes.menus['explorer/context'] as { command: string; when?: string }[]).filter((e) => e.command === command);
  assert.strictEqual(entries.length, 1, `one Explorer menu entry for ${command}`);
  const when = entries[0].when ?? 'true';
  const on = (p: Platform) => candidates.filter((e) => shows(when, p, e)).sort();
  return { linux: on('linux'), windows: on('windows'), mac: on('mac') };
}

const sorted = (which: (r: FormatRow) => boolean) => extensionsOf(which).sort();

describe('format table', () => {
  it('has a registry descriptor per row, with the row\'s own fields', () => {
    assert.deepStrictEqual(Object.keys(FORMAT_REGISTRY).sort(), [...IMAGE_FORMATS].sort());
    for (const f of IMAGE_FORMATS) {
      const d = FORMAT_REGISTRY[f];
      assert.strictEqual(d.id, f);
      for (const [k, v] of Object.entries(FORMAT_TABLE[f])) assert.deepStrictEqual((d as unknown as Record<string, unknown>)[k], v, `${f}.${k}`);
    }
  });

  it('gives each extension to one format, lowercase, without a dot', () => {
    const all = extensionsOf(() => true);
    assert.strictEqual(new Set(all).size, all.length, `duplicates in ${all.join(', ')}`);
    for (const e of all) assert.match(e, /^[a-z0-9]+$/);
  });

  it('detects in one order, raw last', () => {
    assert.strictEqual(new Set(DETECTION_ORDER.map((d) => d.detectOrder)).size, DETECTION_ORDER.length, 'two formats share a detectOrder');
    assert.strictEqual(DETECTION_ORDER[DETECTION_ORDER.length - 1].id, 'raw');
  });

  const everywhere = (r: FormatRow) => r.menus === 'all';
  for (const command of ['vdisk.attach', 'vdisk.attachReadOnly']) {
    // read-write Attach is not offered on read-only media (disc images)
    const ok = (r: FormatRow) => command === 'vdisk.attachReadOnly' || !r.readOnlyMedium;
    it(`package.json offers ${command} in the Explorer on exactly the table's extensions, per platform`, () => {
      assert.deepStrictEqual(offered(command), {
        linux: sorted(ok), windows: sorted((r) => ok(r) && everywhere(r) && r.virtDisk !== null), mac: sorted((r) => ok(r) && everywhere(r)),
      });
    });
  }

  it('package.json offers Inspect in the Explorer on every extension of the table, everywhere (the format layer is pure TypeScript)', () => {
    const all = sorted(() => true);
    assert.deepStrictEqual(offered('vdisk.inspect'), { linux: all, windows: all, mac: all });
  });

  it('package.json offers Create Differencing Disk on the extensions of formats that can be parents', () => {
    const parents = sorted((r) => r.differencingParent);
    assert.deepStrictEqual(offered('vdisk.createDiff'), { linux: parents, windows: parents, mac: parents });
  });

  it('package.json opens the inspector by default on the extensions the table names', () => {
    const editor = (pkg.contributes.customEditors as { viewType: string; selector: { filenamePattern: string }[] }[])
      .find((e) => e.viewType === 'vdisk.inspector');
    const patterns = editor!.selector.map((s) => s.filenamePattern).sort();
    assert.deepStrictEqual(patterns, sorted((r) => r.opensInInspector).map((e) => `*.${e}`).sort());
  });
});
