// The worker's attach rules from issue 16, as pure functions: names that lie, one-sector minimum, protected chains.
import * as assert from 'assert';
import type { ImageInfo } from '../../src/common/image';
import type { AttachedDisk } from '../../src/common/protocol';
import { asRawImage, blockingProblemsFor, tooSmall } from '../../src/worker/policy';
import { chainConflict, createDiffConflict } from '../../src/worker/chain-guard';
import { extensionProblems } from '../../src/formats/extension-check';

function image(p: string, format: ImageInfo['format'], parents: string[] = [], size = 1 << 20): ImageInfo {
  return {
    path: p, format, subtype: parents.length ? 'differencing' : null, virtualSize: size, fileSize: size, blockSize: null,
    logicalSectorSize: 512, physicalSectorSize: 512, id: null, virtualDiskId: null, creator: null, parent: null,
    chain: [p, ...parents].map((x) => ({ path: x, format, subtype: null, id: null })), needsLogReplay: false, problems: [],
  };
}

function disk(img: ImageInfo, readOnly: boolean): AttachedDisk {
  return { device: '/dev/loop9', image: img.path, readOnly, engine: 'loop', lifetime: 'session', ours: true, chain: img.chain };
}

describe('attach policy (issue 16)', () => {
  it('names what the extension expected and what the content is; content that matches is fine', () => {
    assert.deepStrictEqual(extensionProblems('/x/bad.vhdx', 'raw').map((p) => p.message),
      ['The file name\'s extension names a format the content does not have: bad.vhdx is named .vhdx (VHDX expected) but its content is raw data (no image signature)']);
    assert.match(extensionProblems('/x/a.iso', 'vhdx')[0].message, /named \.iso \(ISO 9660 or UDF expected\) but its content is a VHDX/);
    assert.deepStrictEqual(extensionProblems('/x/a.avhdx', 'vhdx'), []);
    assert.deepStrictEqual(extensionProblems('/x/a.img', 'vhd'), [], '.img names no format');
    assert.deepStrictEqual(extensionProblems('/x/a.iso', 'raw'), [], 'a raw .iso is the ISO rules\' business');
  });

  it('sets the name problem aside only for an explicit raw attach, and then exposes the whole file', () => {
    const bad = image('/x/bad.vhdx', 'raw');
    bad.problems = extensionProblems(bad.path, 'raw');
    assert.strictEqual(blockingProblemsFor(bad, true, false).length, 1);
    assert.strictEqual(blockingProblemsFor(bad, true, true).length, 0);
    const raw = asRawImage({ ...image('/x/real.iso', 'vhdx', ['/x/p.vhdx']), fileSize: 4096 });
    assert.deepStrictEqual([raw.format, raw.virtualSize, raw.chain.length, raw.details], ['raw', 4096, 1, { dataOffset: 0, dataSize: 4096 }]);
  });

  it('refuses images smaller than one sector', () => {
    assert.strictEqual(tooSmall(image('/x/t.img', 'raw', [], 511)), '511 bytes is less than one 512-byte sector');
    assert.strictEqual(tooSmall(image('/x/t.img', 'raw', [], 512)), null);
    // a VMDK descriptor is a few hundred bytes of text; its disk is what counts
    assert.strictEqual(tooSmall({ ...image('/x/d.vmdk', 'vmdk', [], 16 << 20), fileSize: 300 }), null);
    assert.strictEqual(tooSmall({ ...image('/x/d.vmdk', 'vmdk', [], 0), fileSize: 300 }), '0 bytes is less than one 512-byte sector');
  });

  it('protects a chain from writes through any layer', () => {
    const base = image('/x/base.vhdx', 'vhdx');
    const child = image('/x/child.vhdx', 'vhdx', [base.path]);
    assert.match(chainConflict(base, false, [disk(child, true)], [])!, /^base\.vhdx is in use as the parent of child\.vhdx \(attached as \/dev\/loop9\)/);
    assert.strictEqual(chainConflict(base, true, [disk(child, true)], []), null, 'read-only is fine');
    assert.match(chainConflict(base, false, [], [child])!, /^base\.vhdx is the parent of child\.vhdx \(in Recent Images\)/);
    assert.match(chainConflict(child, true, [disk(base, false)], [])!, /^child\.vhdx reads through base\.vhdx, which is attached read-write/);
    assert.strictEqual(chainConflict(child, true, [disk(base, true)], []), null);
    assert.match(createDiffConflict(base.path, [disk(base, false)])!, /^base\.vhdx is attached read-write as \/dev\/loop9/);
    assert.strictEqual(createDiffConflict(base.path, [disk(base, true)]), null);
  });
});
