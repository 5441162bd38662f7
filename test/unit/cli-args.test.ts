import * as assert from 'assert';
import { parseArgs } from '../../src/cli/main';
import { cli } from '../support/worker';

describe('CLI arguments', () => {
  it('parses flags, values and positional arguments', () => {
    const a = parseArgs(['attach', 'x.img', '--read-only', '--lifetime', 'session', '--wait', '--json']);
    assert.strictEqual(a.command, 'attach');
    assert.deepStrictEqual(a.positional, ['x.img']);
    assert.strictEqual(a.flags.get('--lifetime'), 'session');
    assert.ok(a.flags.has('--read-only') && a.flags.has('--wait') && a.flags.has('--json'));
    assert.strictEqual(parseArgs(['attach', '--lifetime=permanent', 'y']).flags.get('--lifetime'), 'permanent');
  });

  it('takes file names that look like options after --', () => {
    assert.deepStrictEqual(parseArgs(['attach', '--', '--read-only', '-x.img']).positional, ['--read-only', '-x.img']);
  });

  it('rejects unknown options', () => {
    assert.throws(() => parseArgs(['list', '--bogus']), /unknown option --bogus/);
    assert.throws(() => parseArgs(['attach', 'x', '--lifetime']), /needs a value/);
  });

  for (const [args, msg] of [
    [[], /no command given/], [['frobnicate'], /unknown command frobnicate/], [['attach'], /attach needs one image path/],
    [['attach', 'a', 'b'], /attach needs one image path/], [['attach', 'x.img', '--lifetime', 'forever'], /session or permanent/],
    [['attach', 'x.img', '--lifetime', 'session'], /add --wait/], [['list', '--nope'], /unknown option/],
  ] as [string[], RegExp][]) {
    it(`exits 1 with usage for: vdisk ${args.join(' ')}`, () => {
      const r = cli(args);
      assert.strictEqual(r.code, 1, r.stderr);
      assert.match(r.stderr, msg);
      assert.match(r.stderr, /usage: vdisk/);
      assert.strictEqual(r.stdout, '');
    });
  }

  it('prints help on --help and exits 0', () => {
    const r = cli(['--help']);
    assert.strictEqual(r.code, 0);
    assert.match(r.stdout, /create-diff <parent> <child>/);
  });

  it('exits 2 with one line on stderr when the operation fails', () => {
    const r = cli(['inspect', '/nonexistent/dir/nothing.vhd']);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.strictEqual(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^vdisk: .*nothing\.vhd does not exist/);
  });
});
