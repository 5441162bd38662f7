// Every problem code in the fixed set is provoked here, from a file made in the test run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { inspectImage, createDifferencingDisk, PROBLEM_CODES } from '../../../src/formats';
import { crc32c } from '../../../src/formats/crc32c';
import { guidToBytesLE } from '../../../src/formats/guid';
import { buildVhdChild } from '../../../src/formats/vhd/writer';
import { codes, tempDir, qemuCreate, patch, readAt, run, vmdkDescriptor } from './helpers';

type Maker = (d: string) => Promise<{ file: string; maxDepth?: number }>;

const vpc = (d: string, name: string, size = '16M', opts: string[] = []) => qemuCreate('vpc', path.join(d, name), size, opts);
const vhdx = (d: string, name: string) => qemuCreate('vhdx', path.join(d, name), '16M');
const regionOf = async (f: string, prefix: string) =>
  ((await inspectImage(f)).details!.regions as { guid: string; offset: number }[]).find((r) => r.guid.startsWith(prefix))!;

function writeIso(d: string, name: string): string {
  const src = path.join(d, `${name}-tree`);
  fs.mkdirSync(src);
  const iso = path.join(d, name);
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, src]);
  return iso;
}

const makers: Record<keyof typeof PROBLEM_CODES, Maker> = {
  'footer-missing': async (d) => { const f = vpc(d, 'fm.vhd'); fs.truncateSync(f, fs.statSync(f).size - 512); return { file: f }; },
  'footer-checksum': async (d) => { const f = vpc(d, 'fc.vhd'); patch(f, fs.statSync(f).size - 512 + 100, Buffer.from([9])); return { file: f }; },
  'header-checksum': async (d) => { const f = vpc(d, 'hc.vhd'); patch(f, 512 + 1000, Buffer.from([9])); return { file: f }; },
  'bad-header': async (d) => { const f = vpc(d, 'bh.vhd'); patch(f, 512, Buffer.from('notspars')); return { file: f }; },
  'truncated': async (d) => {
    const f = vpc(d, 'tr.vhd', '8M', ['-o', 'subformat=fixed']);
    const footer = readAt(f, fs.statSync(f).size - 512, 512);
    fs.truncateSync(f, 1024 * 1024);
    fs.appendFileSync(f, footer);
    return { file: f };
  },
  'bat-out-of-range': async (d) => { const f = vpc(d, 'bo.vhd'); patch(f, 1536, Buffer.from([0, 0x10, 0, 0])); return { file: f }; },
  'region-table-invalid': async (d) => {
    const f = vhdx(d, 'rt.vhdx');
    patch(f, 192 * 1024 + 20, Buffer.from([1]));
    patch(f, 256 * 1024 + 20, Buffer.from([1]));
    return { file: f };
  },
  'metadata-invalid': async (d) => { const f = vhdx(d, 'mi.vhdx'); patch(f, (await regionOf(f, '8b7ca206')).offset, Buffer.from('xxxxxxxx')); return { file: f }; },
  'log-replay-required': async (d) => {
    const f = vhdx(d, 'lr.vhdx');
    for (const off of [64 * 1024, 128 * 1024]) {
      const h = readAt(f, off, 4096);
      guidToBytesLE('6f1e4c2a-1111-4222-8333-444455556666').copy(h, 48);
      h.writeUInt32LE(0, 4);
      h.writeUInt32LE(crc32c(h), 4);
      patch(f, off, h);
    }
    return { file: f };
  },
  'parent-locator-missing': async (d) => {
    const built = buildVhdChild({ virtualSize: 16 << 20, geometry: { cylinders: 481, heads: 4, sectors: 17 }, blockSize: 2 << 20,
      uniqueId: '11111111-2222-3333-4444-555555555555', parentId: '66666666-7777-8888-9999-000000000000', parentTimestamp: 0,
      parentName: '', relative: '', absolute: '' });
    const f = path.join(d, 'nl.vhd');
    const fd = fs.openSync(f, 'w');
    fs.ftruncateSync(fd, built.size);
    for (const [o, b] of built.pieces) fs.writeSync(fd, b, 0, b.length, o);
    fs.closeSync(fd);
    return { file: f };
  },
  'parent-missing': async (d) => {
    const b = vpc(d, 'pm-base.vhd');
    await createDifferencingDisk(b, path.join(d, 'pm.vhd'));
    fs.rmSync(b);
    return { file: path.join(d, 'pm.vhd') };
  },
  'parent-unreadable': async (d) => {
    const b = vpc(d, 'pu-base.vhd');
    await createDifferencingDisk(b, path.join(d, 'pu.vhdx'));
    fs.writeFileSync(b, Buffer.alloc(4096, 1));
    return { file: path.join(d, 'pu.vhdx') };
  },
  'parent-id-mismatch': async (d) => {
    const b = vhdx(d, 'pi-base.vhdx');
    await createDifferencingDisk(b, path.join(d, 'pi.vhdx'));
    fs.rmSync(b);
    vhdx(d, 'pi-base.vhdx');
    return { file: path.join(d, 'pi.vhdx') };
  },
  'chain-cycle': async (d) => {
    const b = vpc(d, 'cy-base.vhd');
    await createDifferencingDisk(b, path.join(d, 'cy-a.vhd'));
    await createDifferencingDisk(path.join(d, 'cy-a.vhd'), path.join(d, 'cy-b.vhd'));
    // a new child of b takes a's name: a -> b -> a
    await createDifferencingDisk(path.join(d, 'cy-b.vhd'), path.join(d, 'cy-new.vhd'));
    fs.renameSync(path.join(d, 'cy-new.vhd'), path.join(d, 'cy-a.vhd'));
    return { file: path.join(d, 'cy-a.vhd') };
  },
  'chain-too-deep': async (d) => {
    let prev = vhdx(d, 'td-0.vhdx');
    for (let k = 1; k <= 3; k++) { const c = path.join(d, `td-${k}.vhdx`); await createDifferencingDisk(prev, c); prev = c; }
    return { file: prev, maxDepth: 2 };
  },
  'iso-size-not-multiple-of-2048': async (d) => { const f = writeIso(d, 'odd.iso'); fs.appendFileSync(f, 'x'); return { file: f }; },
  'iso-too-small': async (d) => {
    const f = path.join(d, 'tiny.iso');
    fs.writeFileSync(f, Buffer.concat([Buffer.alloc(32768), Buffer.from('\x01CD001\x01'), Buffer.alloc(200)]));
    return { file: f };
  },
  'iso-no-volume-descriptor': async (d) => { const f = path.join(d, 'empty.iso'); fs.writeFileSync(f, Buffer.alloc(64 * 1024)); return { file: f }; },
  'content-does-not-match-extension': async (d) => {
    const f = path.join(d, 'bad.vhdx');
    fs.writeFileSync(f, 'this is a text file, not a VHDX disk image: 65 bytes of plain text\n');
    return { file: f };
  },
  'layer-missing': async (d) => {
    const b = qemuCreate('qcow2', path.join(d, 'lm-base.qcow2'), '16M');
    const f = qemuCreate('qcow2', path.join(d, 'lm.qcow2'), '16M', ['-b', b, '-F', 'qcow2']);
    fs.rmSync(b);
    return { file: f };
  },
  'layer-not-a-file': async (d) => ({ file: vmdkDescriptor(d, 'nf.vmdk', '/dev/zero') }),
  'layer-unreadable': async (d) => {
    // declared qcow2, but the file is raw data: qemu would refuse to open it
    const b = path.join(d, 'lu-base.img');
    fs.writeFileSync(b, Buffer.alloc(1 << 20));
    return { file: qemuCreate('qcow2', path.join(d, 'lu.qcow2'), '1M', ['-u', '-b', b, '-F', 'qcow2']) };
  },
  'layer-unsupported': async (d) => ({ file: qemuCreate('qcow2', path.join(d, 'ls.qcow2'), '1M', ['-u', '-b', 'nbd://127.0.0.1:10809/x', '-F', 'raw']) }),
  'partition-table-invalid': async (d) => {
    // an MBR partition that ends 1 MiB past the end of a 2 MiB disk (the disk image was cut short)
    const f = path.join(d, 'cut.img');
    fs.writeFileSync(f, Buffer.alloc(0));
    fs.truncateSync(f, 2 << 20);
    run('sfdisk', ['-q', f], { input: 'label: dos\nstart=2048, size=2048, type=83\n' });
    fs.truncateSync(f, 1536 * 1024);
    return { file: f };
  },
};

describe('formats: every problem code is provoked', function () {
  const dir = tempDir(this);

  it('the maker table covers the whole documented set', function () {
    assert.deepStrictEqual(Object.keys(makers).sort(), Object.keys(PROBLEM_CODES).sort());
  });

  for (const [code, make] of Object.entries(makers)) {
    it(code, async function () {
      const d = path.join(dir(), code);
      fs.mkdirSync(d);
      const { file, maxDepth } = await make(d);
      const info = await inspectImage(file, { maxDepth });
      assert.ok(codes(info).includes(code), `${code} not in ${JSON.stringify(info.problems)}`);
      const p = info.problems.find((x) => x.code === code)!;
      assert.ok(p.message.startsWith(PROBLEM_CODES[code as keyof typeof PROBLEM_CODES]), p.message);
    });
  }

  it('the documented list in docs/formats.md names every code', function () {
    const doc = path.resolve(__dirname, '../../../../docs/formats.md');
    const text = fs.readFileSync(doc, 'utf8');
    for (const c of Object.keys(PROBLEM_CODES)) assert.ok(text.includes(`\`${c}\``), `${c} missing from docs/formats.md`);
  });
});
