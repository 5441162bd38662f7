// A damaged exFAT directory entry through the worker and the CLI: the folder still lists (without it), and the user
// is told which entry of which folder was skipped (stderr of `ls` and `extract`, BrowseEntry.problems).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import * as P from '../../src/common/protocol';
import type { WorkerClient } from '../../src/host/worker-client';
import { cli, newClient, tmpDir } from '../support/worker';
import { FIXTURE } from '../fuzz/exfat';

describe('Browse: a damaged exFAT entry is skipped and named, the rest reads', function () {
  this.timeout(120_000);
  let dir: string, img: string;
  let client: WorkerClient;
  before(() => {
    dir = tmpDir('vdisk-browse-damaged-'); fs.chmodSync(dir, 0o755); client = newClient();
    const b = zlib.gunzipSync(fs.readFileSync(FIXTURE));
    // break the checksum of sub/multi.bin's entry set (found by its name, UTF-16 in its file name entry)
    const name = Buffer.from('multi.bin', 'utf16le');
    const at = b.indexOf(name) - 64 - 2;
    assert.ok(at > 0 && b[at] === 0x85, 'the fixture holds multi.bin\'s entry set');
    b[at + 4] ^= 1;
    img = path.join(dir, 'damaged.exfat');
    fs.writeFileSync(img, b);
  });
  after(async () => { await client?.stop(); if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('lists the folder without the entry; its stat, `ls` and `extract` name it', async () => {
    const st = await client.request(P.BrowseStat, { image: img, path: '/sub' });
    assert.strictEqual(st.problems?.length, 1);
    assert.match(st.problems[0], /^entry \d+ \("multi\.bin"\): entry set checksum mismatch$/);
    const list = await client.request(P.BrowseList, { image: img, path: '/sub' });
    assert.ok(list.length > 0 && !list.some((e) => e.name === 'multi.bin'));
    const ls = cli(['ls', img, '/sub']);
    assert.strictEqual(ls.code, 0, ls.stderr);
    assert.match(ls.stderr, /^vdisk: warning: \/sub: entry \d+ \("multi\.bin"\): entry set checksum mismatch$/m);
    const x = cli(['extract', img, '/', path.join(dir, 'out')]);
    assert.strictEqual(x.code, 0, x.stderr);
    assert.match(x.stderr, /^vdisk: warning: skipped \/sub: entry \d+ \("multi\.bin"\): entry set checksum mismatch$/m);
    assert.ok(fs.existsSync(path.join(dir, 'out/a.txt')) && !fs.existsSync(path.join(dir, 'out/sub/multi.bin')));
  });
});
