// The short seeded fuzz run inside `npm test` (the long run is scripts/fuzz.js, see docs/fuzzing.md), every saved
// crashing input replayed as a regression test, and checks that the harness itself can fail.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inspectImage, createDifferencingDisk } from '../../src/formats';
import { Corpus, FUZZ_FORMATS, buildCorpus } from '../fuzz/corpus';
import { BLOCK_FUZZ_FORMATS } from '../fuzz/block-corpus';
import { installAllocationGuard, MAX_ALLOCATION } from '../fuzz/check';
import { runFuzz, signature, HANG_MS } from '../fuzz/runner';
import { listFixtures, replayFixture } from '../fuzz/replay';
import { sharedImagesAvailable } from '../support/shared-images';
import { qemuCreate, readAt, patch } from './formats/helpers';
import { vhdChecksum } from '../../src/formats/vhd/inspect';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/fuzz');
const CASES_PER_FORMAT = 400;
const SEED = 20261122;

describe('fuzz: short seeded run of every parser', function () {
  this.timeout(120000);
  let corpus: Corpus;
  before(async function () {
    if (!sharedImagesAvailable()) console.log('    (real-image seeds skipped: ../shared/images is absent; generated seeds only)');
    corpus = await buildCorpus(FUZZ_FORMATS);
  });
  after(() => { if (corpus) fs.rmSync(corpus.dir, { recursive: true, force: true }); });

  for (const format of FUZZ_FORMATS) {
    it(`${format}: ${CASES_PER_FORMAT} mutated images, no crash, hang, big allocation or unnamed failure`, async function () {
      const s = await runFuzz({ format, corpus, cases: CASES_PER_FORMAT, seed: SEED, fixtureDir: null, qemuEvery: 10 });
      assert.strictEqual(s.cases, CASES_PER_FORMAT);
      const sigs = [...new Set(s.failures.map((f) => `case ${f.index} ${f.target} [${f.mutations.join('; ')}]: ${signature(f)}`))];
      assert.ok(!sigs.length, `${s.failures.length} failing cases (replay: node scripts/fuzz.js --format ${format} --seed ${SEED} `
        + `--cases ${CASES_PER_FORMAT}); first: ${sigs.slice(0, 3).join(' | ')}; error: ${s.failures[0]?.error.slice(0, 300)}`);
    });
  }

  it('the watchdog ends a case that never returns and reports it as a hang', async function () {
    const s = await runFuzz({ format: 'vdi', corpus, cases: 6, seed: SEED, workers: 1, fixtureDir: null, hangAt: 2 });
    assert.deepStrictEqual(s.failures.map((f) => [f.index, f.kind]), [[2, 'hang']]);
    assert.strictEqual(s.cases, 6, 'the cases after the hung one still run');
    assert.ok(HANG_MS <= 3000);
  });
});

describe('fuzz: short seeded run of the block layer (openDisk + reading the whole disk)', function () {
  this.timeout(120000);
  const BLOCK_CASES = 200;
  let corpus: Corpus;
  before(async function () { corpus = await buildCorpus(BLOCK_FUZZ_FORMATS, { block: true }); });
  after(() => { if (corpus) fs.rmSync(corpus.dir, { recursive: true, force: true }); });

  for (const format of BLOCK_FUZZ_FORMATS) {
    it(`${format}: ${BLOCK_CASES} mutated images open and read, or are refused with a FormatError`, async function () {
      const s = await runFuzz({ format, corpus, cases: BLOCK_CASES, seed: SEED, fixtureDir: null, target: 'block' });
      assert.strictEqual(s.cases, BLOCK_CASES);
      const sigs = [...new Set(s.failures.map((f) => `case ${f.index} ${f.target} [${f.mutations.join('; ')}]: ${signature(f)}`))];
      assert.ok(!sigs.length, `${s.failures.length} failing cases (replay: node scripts/fuzz.js --target block --format ${format} --seed ${SEED} `
        + `--cases ${BLOCK_CASES}); first: ${sigs.slice(0, 3).join(' | ')}; error: ${s.failures[0]?.error.slice(0, 300)}`);
      assert.ok(s.opened > BLOCK_CASES / 10, `only ${s.opened} of ${BLOCK_CASES} mutated disks opened: the data paths are not reached`);
    });
  }
});

describe('fuzz: saved crashing inputs stay fixed', function () {
  this.timeout(60000);
  const fixtures = listFixtures(FIXTURES);
  it('test/fixtures/fuzz holds regression inputs, each with its note', function () {
    assert.ok(fixtures.length > 0, `no fixtures in ${FIXTURES}`);
    for (const f of fixtures) assert.ok(fs.existsSync(path.join(FIXTURES, f.replace(/\.bin\.gz$/, '.json'))), `${f} has no .json note`);
  });
  for (const f of fixtures) {
    it(f, async function () {
      const failure = await replayFixture(path.join(FIXTURES, f));
      assert.strictEqual(failure, null, failure ? `${failure.kind}: ${failure.error}` : '');
    });
  }
});

describe('fuzz: the oracle can fail', function () {
  it('the allocation guard refuses one Buffer above the limit and lets the rest through', function () {
    const off = installAllocationGuard();
    try {
      assert.throws(() => Buffer.allocUnsafe(MAX_ALLOCATION + 1), /fuzz guard/);
      assert.strictEqual(Buffer.alloc(16).length, 16);
    } finally { off(); }
    assert.strictEqual(Buffer.allocUnsafe(MAX_ALLOCATION + 1).length, MAX_ALLOCATION + 1, 'the guard is removed');
  });
});

describe('fuzz: parent locators outside the child folder are followed as Windows would, and shown', function () {
  let dir = '';
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-fuzz-loc-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A VHD child in <dir>/<sub>/a/b whose relative (W2ru) locator is `rel`; its parent lives at <dir>/<sub>/p/P.vhd. */
  async function childWithLocator(sub: string, rel: string): Promise<{ child: string; parent: string }> {
    const base = path.join(dir, sub);
    fs.mkdirSync(path.join(base, 'p'), { recursive: true });
    fs.mkdirSync(path.join(base, 'a/b'), { recursive: true });
    const parent = qemuCreate('vpc', path.join(base, 'p/P.vhd'), '4M');
    const child = path.join(base, 'a/b/child.vhd');
    await createDifferencingDisk(parent, child);
    const size = fs.statSync(child).size;
    const d = Number(readAt(child, size - 512, 512).readBigUInt64BE(16));
    const h = readAt(child, d, 1024);
    const data = Buffer.from(rel, 'utf16le');
    for (let i = 0; i < 2; i++) {
      // slot 0 (W2ru) gets `rel`; slot 1 (W2ku, absolute) is removed so only `rel` can find the parent
      const o = 576 + i * 24;
      if (i === 1) { h.fill(0, o, o + 24); continue; }
      const at = Number(h.readBigUInt64BE(o + 16));
      h.writeUInt32BE(data.length, o + 8);
      h.writeUInt32BE(Math.max(512, data.length), o + 4);
      patch(child, at, data);
    }
    h.writeUInt32BE(vhdChecksum(h, 36), 36);
    patch(child, d, h);
    return { child, parent };
  }

  it('`..\\..\\p\\P.vhd` resolves against the child folder, and the result names the file it reached', async function () {
    const { child, parent } = await childWithLocator('rel', '..\\..\\p\\P.vhd');
    const info = await inspectImage(child);
    assert.deepStrictEqual(info.problems, []);
    assert.strictEqual(info.parent?.resolvedPath, parent);
    assert.deepStrictEqual(info.chain.map((c) => c.path), [child, parent]);
  });

  it('an absolute POSIX path elsewhere is followed and visible in parent.resolvedPath', async function () {
    const { child, parent } = await childWithLocator('abs', path.join(dir, 'abs/p/P.vhd'));
    const info = await inspectImage(child);
    assert.strictEqual(info.parent?.resolvedPath, parent);
    assert.strictEqual(info.chain[1]?.path, parent);
  });

  it('a drive-letter path is never followed elsewhere: only its file name in the child folder, else parent-missing', async function () {
    const { child } = await childWithLocator('drive', 'C:\\elsewhere\\P.vhd');
    const info = await inspectImage(child);
    assert.strictEqual(info.parent?.resolvedPath, null);
    assert.ok(info.problems.some((p) => p.code === 'parent-missing' && p.message.includes(path.join(path.dirname(child), 'P.vhd'))), JSON.stringify(info.problems));
  });

  it('`..` chains that climb above / stay at / and are reported, never silently dropped', async function () {
    const { child } = await childWithLocator('climb', `${'..\\'.repeat(40)}etc\\passwd`);
    const info = await inspectImage(child);
    assert.strictEqual(info.parent?.resolvedPath, null);
    assert.ok(info.problems.some((p) => p.code === 'parent-unreadable' && p.message.includes('/etc/passwd')), JSON.stringify(info.problems));
  });
});
