// The format table (src/common/formats.ts) is the one list of formats: the registry has a descriptor per row, and
// package.json's Explorer menus and the inspector's editor selector offer exactly the table's extensions.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { extensionsOf, FORMAT_TABLE, FormatRow, IMAGE_FORMATS } from '../../src/common/formats';
import { DETECTION_ORDER, FORMAT_REGISTRY } from '../../src/formats/registry';

const ROOT = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const LINUX_KEY = 'vdisk.linuxFormats';

/** Every extension in the table, and some that no format has: what a when-clause must accept and refuse. */
const candidates = [...new Set([...extensionsOf(() => true), 'txt', 'vhdz', 'qcow', 'imgx', 'vhdx.bak', 'json'])];

/**
 * The extensions a menu entry's when-clause shows the command for, split by whether the disjunct needs the
 * vdisk.linuxFormats context key. Each `||` disjunct has at most one `resourceExtname =~ /.../i`.
 */
function offered(command: string): { always: string[]; linux: string[] } {
  const entries = (pkg.contributes.menus['explorer/context'] as { command: string; when?: string }[]).filter((e) => e.command === command);
  assert.strictEqual(entries.length, 1, `one Explorer menu entry for ${command}`);
  const always = new Set<string>();
  const linux = new Set<string>();
  for (const disjunct of (entries[0].when ?? '').split('||')) {
    const m = /resourceExtname =~ \/((?:\\.|[^/])*)\/([a-z]*)/.exec(disjunct);
    if (!m) continue;
    const re = new RegExp(m[1], m[2]);
    for (const ext of candidates) if (re.test(`.${ext}`)) (disjunct.includes(LINUX_KEY) ? linux : always).add(ext);
  }
  for (const e of linux) if (always.has(e)) linux.delete(e);
  return { always: [...always].sort(), linux: [...linux].sort() };
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

  for (const command of ['vdisk.attach', 'vdisk.attachReadOnly', 'vdisk.inspect']) {
    it(`package.json offers ${command} in the Explorer on exactly the table's extensions`, () => {
      assert.deepStrictEqual(offered(command), { always: sorted((r) => r.menus === 'all'), linux: sorted((r) => r.menus === 'linux') });
    });
  }

  it('package.json offers Create Differencing Disk on the extensions of formats that can be parents', () => {
    assert.deepStrictEqual(offered('vdisk.createDiff'), { always: sorted((r) => r.differencingParent), linux: [] });
  });

  it('package.json opens the inspector by default on the extensions the table names', () => {
    const editor = (pkg.contributes.customEditors as { viewType: string; selector: { filenamePattern: string }[] }[])
      .find((e) => e.viewType === 'vdisk.inspector');
    const patterns = editor!.selector.map((s) => s.filenamePattern).sort();
    assert.deepStrictEqual(patterns, sorted((r) => r.opensInInspector).map((e) => `*.${e}`).sort());
  });
});
