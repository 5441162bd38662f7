// The image-management commands of `node dist/cli.js`, end to end through the worker.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { cli } from '../../support/worker';
import { inspectImage } from '../../../src/formats';
import { tempDir } from '../formats/helpers';

describe('manage: CLI', function () {
  const dir = tempDir(this, 'vdisk-mcli-');

  it('create writes the disk asked for and reports it as JSON', async function () {
    const f = path.join(dir(), 'new.vhdx');
    const r = cli(['create', f, '--size', '1G', '--format', 'vhdx', '--type', 'dynamic', '--block-size', '8M', '--logical-sector', '512', '--physical-sector', '512', '--json']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.deepStrictEqual({ ...r.json as object, id: undefined }, {
      path: f, format: 'vhdx', type: 'dynamic', size: 2 ** 30, blockSize: 8 * 2 ** 20, logicalSectorSize: 512, physicalSectorSize: 512, id: undefined,
    });
    const i = await inspectImage(f);
    assert.strictEqual(i.blockSize, 8 * 2 ** 20);
    assert.strictEqual(i.physicalSectorSize, 512);
  });

  it('create: usage errors exit 1, refusals exit 2 with one line and no file', function () {
    const f = path.join(dir(), 'bad.vhd');
    for (const args of [['--size', '1G', '--format', 'vhd'], ['--size', 'lots', '--format', 'vhd', '--type', 'fixed'], ['--size', '1G', '--format', 'vhd', '--type', 'sparse']]) {
      const r = cli(['create', f, ...args]);
      assert.strictEqual(r.code, 1, r.stderr);
      assert.match(r.stderr, /usage: vdisk/);
    }
    const r = cli(['create', f, '--size', '4T', '--format', 'vhd', '--type', 'dynamic']);
    assert.strictEqual(r.code, 2);
    assert.match(r.stderr, /at most 2040 GiB/);
    assert.strictEqual(r.stderr.trim().split('\n').length, 1);
    assert.ok(!fs.existsSync(f));
  });
});
