// Resize refuses an image that is attached (a real loop device, read-write or read-only: the device and the file
// systems on it keep the old size), changes nothing, and works once it is detached.
import * as assert from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { cli, forceDetachUnder, isRoot, loopsUnder, tmpDir } from '../support/worker';

const MiB = 2 ** 20;
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

describe('resize of an attached image (real devices)', function () {
  this.timeout(60_000);
  let dir: string;
  before(function () { if (!isRoot) { console.log('    (needs root for loop devices)'); this.skip(); } });
  beforeEach(() => { dir = tmpDir('vdisk-resize-att-'); });
  afterEach(() => {
    const left = loopsUnder(dir);
    forceDetachUnder(dir);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.deepStrictEqual(left, []);
  });

  for (const readOnly of [false, true]) {
    it(`refuses while attached ${readOnly ? 'read-only' : 'read-write'}, byte-identical; resizes after detach`, () => {
      const img = path.join(dir, 'disk.img');
      fs.writeFileSync(img, Buffer.alloc(8 * MiB, 0x5a));
      const a = cli(['attach', img, ...(readOnly ? ['--read-only'] : []), '--json']);
      assert.strictEqual(a.code, 0, a.stderr);
      const device = (a.json as { device: string }).device;
      const keep = sha(img);
      const r = cli(['resize', img, '--size', '16M']);
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, new RegExp(`is in use by the attached disk ${device}.*: detach it first`));
      assert.strictEqual(sha(img), keep);
      assert.strictEqual(cli(['detach', device]).code, 0);
      const ok = cli(['resize', img, '--size', '16M', '--json']);
      assert.strictEqual(ok.code, 0, ok.stderr);
      assert.strictEqual(fs.statSync(img).size, 16 * MiB);
    });
  }
});
