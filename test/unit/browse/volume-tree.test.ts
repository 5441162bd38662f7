// A volume's tree while only some folders are listed (single-folder 7-Zip runs) and once the full listing arrives:
// the same answers either way, links followed through folders not listed yet, and a fallback to the full listing
// for names 7-Zip's wildcards cannot match literally.
import * as assert from 'assert';
import { FsNode, Listing, newDir, parseSlt } from '../../../src/worker/browse/slt';
import { Lister, VolumeTree, wildcardSafe } from '../../../src/worker/browse/volume-tree';

const block = (f: Record<string, string>) => Object.entries(f).map(([k, v]) => `${k} = ${v}`).concat('');
const HEAD = ['--', 'Path = /in/volume', 'Type = Ext', 'Label = data', '', '----------'];
const ITEMS: Record<string, string>[] = [
  { Path: 'etc', Folder: '+', Mode: 'drwxr-xr-x' },
  { Path: 'etc/conf', Folder: '+', Mode: 'drwxr-xr-x' },
  { Path: 'etc/conf/a.conf', Folder: '-', Size: '7', Mode: '-rw-r--r--' },
  { Path: 'usr', Folder: '+', Mode: 'drwxr-xr-x' },
  { Path: 'usr/lib', Folder: '+', Mode: 'drwxr-xr-x' },
  { Path: 'usr/lib/x.so', Folder: '-', Size: '3', Mode: '-rw-r--r--' },
  { Path: 'lib', Folder: '+', Mode: 'lrwxrwxrwx', 'Symbolic Link': 'usr/lib' },
  { Path: 'we?ird', Folder: '+', Mode: 'drwxr-xr-x' },
  { Path: 'we?ird/f', Folder: '-', Size: '1', Mode: '-rw-r--r--' },
  { Path: 'top.txt', Folder: '-', Size: '2', Mode: '-rw-r--r--' },
];

/** What 7-Zip answers: the whole listing, or only the items directly inside a folder (as its wildcards select). */
function fakeLister(calls: string[]): Lister {
  const select = (dir: string | undefined) => ITEMS.filter((i) => {
    if (dir === undefined) return true;
    const parent = i.Path.includes('/') ? i.Path.slice(0, i.Path.lastIndexOf('/')) : '';
    return parent === dir;
  });
  const list = (dir?: string): Listing => parseSlt([...HEAD, ...select(dir).flatMap(block)]);
  return {
    complete: false,
    folder: async (names) => { calls.push(names.join('/') || '/'); return list(names.join('/')); },
    all: async () => { calls.push('*all*'); return list(); },
  };
}

const names = (n: FsNode[] | null) => n?.map((x) => x.name).join('/');
const kids = (n: FsNode) => [...n.children!.keys()].sort();

describe('browse: listing folder by folder', () => {
  it('lists only the folders it walks through, then the full listing replaces them', async () => {
    const calls: string[] = [];
    const t = await VolumeTree.open(fakeLister(calls));
    assert.deepStrictEqual([t.type, t.label, t.complete], ['Ext', 'data', false]);
    assert.deepStrictEqual(kids(t.root), ['etc', 'lib', 'top.txt', 'usr', 'we?ird']);
    assert.strictEqual(t.root.children!.get('etc')!.partial, true);
    const found = await t.find(['etc', 'conf', 'a.conf'], true);
    assert.strictEqual(names(found), '/etc/conf/a.conf');
    assert.strictEqual(found!.at(-1)!.size, 7);
    assert.deepStrictEqual(calls, ['/', 'etc', 'etc/conf']);
    // a link into a folder not listed yet: that folder is listed to follow it
    assert.strictEqual(names(await t.find(['lib', 'x.so'], true)), '/usr/lib/x.so');
    assert.deepStrictEqual(calls.slice(3), ['usr', 'usr/lib']);
    assert.strictEqual(await t.find(['etc', 'nope'], true), null);
    await t.whole();
    assert.strictEqual(t.complete, true);
    assert.strictEqual(names(await t.find(['lib', 'x.so'], true)), '/usr/lib/x.so');
    assert.deepStrictEqual(kids(t.root.children!.get('usr')!.children!.get('lib')!), ['x.so']);
    assert.deepStrictEqual(calls.slice(5), ['*all*']);
  });

  it('waits for the full listing for a folder whose name 7-Zip would read as a wildcard, or past its budget', async () => {
    const calls: string[] = [];
    const t = await VolumeTree.open(fakeLister(calls));
    assert.strictEqual(names(await t.find(['we?ird', 'f'], true)), '/we?ird/f');
    assert.deepStrictEqual(calls, ['/', '*all*']);
    calls.length = 0;
    const u = await VolumeTree.open(fakeLister(calls));
    assert.strictEqual(names(await u.find(['usr', 'lib', 'x.so'], true, { left: 1 })), '/usr/lib/x.so');
    assert.deepStrictEqual(calls, ['/', 'usr', '*all*']);
    assert.deepStrictEqual([wildcardSafe(['a b', 'ü']), wildcardSafe(['a*']), wildcardSafe(['@list']), wildcardSafe(['x', 'a\\b'])], [true, false, false, false]);
  });

  it('a lister that answers whole (exFAT) is complete at once', async () => {
    const root = newDir('');
    root.children!.set('f', { name: 'f', type: 'file', size: 1, mtime: 0 });
    const l: Listing = { type: 'exFAT', label: null, root, count: 1 };
    const t = await VolumeTree.open({ complete: true, folder: async () => l, all: async () => l });
    assert.strictEqual(t.complete, true);
    assert.strictEqual(names(await t.find(['f'], true)), '/f');
  });
});
