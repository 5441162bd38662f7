// Finding the WSL and Docker Desktop disks: the reg.exe output parser, the search over a fake Lxss registry and a
// fake %LOCALAPPDATA% tree, size on disk against ext4 data (checked with dumpe2fs), in-use refusals, and the CLI
// inside a (fake) WSL with a fake /mnt/c tree: found, measured, refused for compaction from in there.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { findWslDisks, parseRegQuery, WslSources } from '../../../src/worker/wsl/find';
import { wslDisks } from '../../../src/worker/wsl/service';
import { compactImage } from '../../../src/formats/manage/compact';
import { cli } from '../../support/worker';
import { run, tempDir } from '../formats/helpers';
import type { WslDisksResult } from '../../../src/common/protocol';
import { formatSize } from '../../../src/common/sizes';

const MiB = 2 ** 20;
const REG = `
HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Lxss
    DefaultDistribution    REG_SZ    {11111111-2222-3333-4444-555555555555}

HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Lxss\\{11111111-2222-3333-4444-555555555555}
    State    REG_DWORD    0x1
    DistributionName    REG_SZ    Ubuntu-22.04
    Version    REG_DWORD    0x2
    BasePath    REG_SZ    C:\\Users\\alice\\AppData\\Local\\Packages\\CanonicalGroupLimited.Ubuntu22.04LTS_79rhkp1fndgsc\\LocalState
    Flags    REG_DWORD    0xf

HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Lxss\\{aaaaaaaa-2222-3333-4444-555555555555}
    DistributionName    REG_SZ    Legacy
    BasePath    REG_SZ    C:\\Users\\alice\\AppData\\Local\\Packages\\Legacy\\LocalState
    Flags    REG_DWORD    0x7

HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Lxss\\{bbbbbbbb-2222-3333-4444-555555555555}
    DistributionName    REG_SZ    docker-desktop
    BasePath    REG_SZ    \\\\?\\C:\\Users\\alice\\AppData\\Local\\Docker\\wsl\\main
    VhdFileName    REG_SZ    ext4.vhdx
    Flags    REG_DWORD    0xf
`;

describe('manage: WSL and Docker Desktop disks', function () {
  this.timeout(60_000);
  const dir = tempDir(this, 'vdisk-wsl-');
  let mnt = '', local = '', ext4 = '', used = 0;

  before(function () {
    // a small ext4 (with a file) as a dynamic VHDX; dumpe2fs says how much it uses
    const raw = path.join(dir(), 'fs.img');
    fs.writeFileSync(raw, '');
    fs.truncateSync(raw, 64 * MiB);
    run('mkfs.ext4', ['-q', '-F', raw]);
    fs.writeFileSync(path.join(dir(), 'big'), Buffer.alloc(12 * MiB, 0x61));
    run('debugfs', ['-w', '-R', `write ${path.join(dir(), 'big')} big`, raw]);
    const h = run('dumpe2fs', [raw]); // every group's descriptor: "N free blocks, ..."
    const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(h)![1]);
    const free = [...h.matchAll(/^\s+(\d+) free blocks,/gm)].reduce((n, m) => n + Number(m[1]), 0);
    used = (get('Block count') - free) * get('Block size');
    ext4 = path.join(dir(), 'ext4.vhdx');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', '-o', 'block_size=1M', raw, ext4]);
    mnt = path.join(dir(), 'mnt');
    local = path.join(mnt, 'c/Users/alice/AppData/Local');
    for (const rel of ['Packages/CanonicalGroupLimited.Ubuntu22.04LTS_79rhkp1fndgsc/LocalState/ext4.vhdx', 'Docker/wsl/main/ext4.vhdx',
      'Docker/wsl/disk/docker_data.vhdx', 'wsl/{cccccccc-2222-3333-4444-555555555555}/ext4.vhdx']) {
      fs.mkdirSync(path.dirname(path.join(local, rel)), { recursive: true });
      fs.copyFileSync(ext4, path.join(local, rel));
    }
    fs.mkdirSync(path.join(local, 'Packages/Legacy/LocalState'), { recursive: true }); // WSL 1: a folder, no disk
  });

  const sources = (lxss: WslSources['lxss']): WslSources => ({
    where: 'wsl', lxss, localAppData: () => [local],
    local: (p) => { const m = /^([A-Za-z]):\\(.*)$/.exec(p); return m ? path.join(mnt, m[1].toLowerCase(), ...m[2].split('\\')) : null; },
  });

  it('parses reg.exe output: names, base paths (\\\\?\\ kept for the finder), VhdFileName, Flags', function () {
    const e = parseRegQuery(REG.replace(/\n/g, '\r\n'));
    assert.deepStrictEqual(e.map((x) => [x.name, x.flags, x.vhdFileName]), [['Ubuntu-22.04', 15, undefined], ['Legacy', 7, undefined], ['docker-desktop', 15, 'ext4.vhdx']]);
    assert.match(e[2].basePath!, /^\\\\\?\\C:\\Users/);
  });

  it('finds each registered WSL 2 disk and Docker Desktop\'s, once each, and says why others are left out', async function () {
    const r = await findWslDisks(sources(async () => parseRegQuery(REG)));
    assert.deepStrictEqual(r.disks.map((d) => [d.kind, d.name, path.relative(local, d.path)]), [
      ['wsl', 'Ubuntu-22.04', 'Packages/CanonicalGroupLimited.Ubuntu22.04LTS_79rhkp1fndgsc/LocalState/ext4.vhdx'],
      ['docker', 'docker-desktop', 'Docker/wsl/main/ext4.vhdx'],
      ['docker', 'Docker Desktop data', 'Docker/wsl/disk/docker_data.vhdx'],
      ['wsl', '{cccccccc-2222-3333-4444-555555555555}', 'wsl/{cccccccc-2222-3333-4444-555555555555}/ext4.vhdx'],
    ]);
    assert.deepStrictEqual(r.notes, ['Legacy is a WSL 1 distribution: it has no virtual disk.']);
    const noReg = await findWslDisks(sources(async () => ({ error: 'reg.exe is not there' })));
    assert.strictEqual(noReg.disks.length, 4, 'the folders are searched without the registry');
    assert.match(noReg.notes[0], /registry could not be read \(reg.exe is not there\)/);
  });

  it('measures size on disk against ext4 data (as dumpe2fs counts it) and refuses what is attached', async function () {
    const ubuntu = path.join(local, 'Packages/CanonicalGroupLimited.Ubuntu22.04LTS_79rhkp1fndgsc/LocalState/ext4.vhdx');
    const backend = { list: async () => [{ device: '/dev/loop9', image: ubuntu, readOnly: false }] } as never;
    const r = await wslDisks(backend, { ...sources(async () => parseRegQuery(REG)), where: 'windows' });
    assert.strictEqual(r.where, 'windows');
    for (const d of r.disks) {
      assert.strictEqual(d.dataBytes, used, `${d.name}: used = blocks - free blocks`);
      assert.strictEqual(d.virtualSize, 64 * MiB);
      assert.strictEqual(d.fileBytes, fs.statSync(d.path).size);
    }
    assert.deepStrictEqual(r.disks.map((d) => d.inUse), [true, false, false, false]);
    assert.match(r.disks[0].inUseReason!, /vdisk has it attached/);
    assert.ok(r.notes.some((n) => n.includes('wsl --shutdown')));
  });

  it('a listing of attached disks that fails (Wine\'s VirtDisk) still finds every disk, and the notes say why none is marked attached', async function () {
    const backend = { list: async () => { throw new Error('Attached virtual disks cannot be listed on this system: (the reason)'); } } as never;
    const r = await wslDisks(backend, { ...sources(async () => parseRegQuery(REG)), where: 'windows' });
    assert.strictEqual(r.disks.length, 4);
    assert.deepStrictEqual(r.disks.map((d) => d.inUse), [false, false, false, false]);
    assert.ok(r.notes.includes('Attached disks could not be listed (Attached virtual disks cannot be listed on this system: (the reason)): compact still refuses one that is attached.'), r.notes.join('\n'));
  });

  it('CLI inside WSL (fake /mnt/c): lists and measures every disk, each refused for compaction from in there', function () {
    const env = { VDISK_TEST_WSL_MNT: mnt, WSL_DISTRO_NAME: 'Ubuntu-22.04' };
    const c = cli(['wsl-disks', '--json'], env);
    assert.strictEqual(c.code, 0, c.stderr);
    const r = c.json as WslDisksResult;
    assert.strictEqual(r.where, 'wsl');
    assert.strictEqual(r.disks.length, 4);
    assert.ok(r.disks.every((d) => d.inUse && /from inside WSL.*wsl --shutdown/.test(d.inUseReason!) && d.dataBytes === used));
    assert.match(r.notes.join('\n'), /reg\.exe is not there/);
    assert.match(r.notes.join('\n'), /compacted from Windows, with WSL shut down/);
    const text = cli(['wsl-disks'], env);
    assert.match(text.stdout, /WSL\tCanonicalGroupLimited\.Ubuntu22\.04LTS\t/);
    assert.ok(text.stdout.includes(`on disk, ${formatSize(used)} of data (virtual size 64 MiB)`), text.stdout);
  });

  it('CLI inside WSL reads the registry through reg.exe (interop) when it is there', function () {
    const reg = path.join(mnt, 'c/Windows/System32/reg.exe');
    fs.mkdirSync(path.dirname(reg), { recursive: true });
    fs.writeFileSync(path.join(dir(), 'reg.txt'), REG);
    fs.writeFileSync(reg, `#!/bin/sh\n[ "$1 $2 $3" = 'query HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Lxss /s' ] || exit 1\ncat '${path.join(dir(), 'reg.txt')}'\n`, { mode: 0o755 });
    try {
      const c = cli(['wsl-disks', '--json'], { VDISK_TEST_WSL_MNT: mnt, WSL_DISTRO_NAME: 'Ubuntu-22.04' });
      assert.strictEqual(c.code, 0, c.stderr);
      const r = c.json as WslDisksResult;
      assert.deepStrictEqual(r.disks.map((d) => d.name), ['Ubuntu-22.04', 'docker-desktop', 'Docker Desktop data', '{cccccccc-2222-3333-4444-555555555555}']);
      assert.ok(r.notes.includes('Legacy is a WSL 1 distribution: it has no virtual disk.'));
    } finally { fs.rmSync(path.join(mnt, 'c/Windows'), { recursive: true }); }
  });

  it('a found disk compacts to its data: bytes reclaimed reported', async function () {
    const d = path.join(local, 'wsl/{cccccccc-2222-3333-4444-555555555555}/ext4.vhdx');
    const raw = path.join(dir(), 'deleted.img');
    run('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', d, raw]);
    run('debugfs', ['-w', '-R', 'rm big', raw]); // 12 MiB deleted inside, still in the file
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', '-o', 'block_size=1M', raw, d]);
    const r = await compactImage(d);
    assert.ok(r.before - r.after >= 11 * MiB, `${r.before} -> ${r.after}`);
    assert.deepStrictEqual(r.fileSystems.map((f) => f.type), ['ext4']);
  });
});
