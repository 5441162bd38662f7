// Kernel module detection against a module tree laid out like Debian 12's /lib/modules/<release>/.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fsModuleAvailable } from '../../../src/worker/linux/kernel-modules';

const roots: string[] = [];

function tree(files: string[], dep: string[] | null, builtin: string[] = []): string {
  roots.push(fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-kmod-')));
  const dir = path.join(roots[roots.length - 1], 'lib', 'modules', '6.1.0-28-amd64');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of files) { fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true }); fs.writeFileSync(path.join(dir, f), ''); }
  if (dep) fs.writeFileSync(path.join(dir, 'modules.dep'), dep.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'modules.builtin'), builtin.join('\n') + '\n');
  return dir;
}

describe('kernel module detection (a Debian-like /lib/modules tree)', () => {
  after(() => { for (const r of roots) fs.rmSync(r, { recursive: true, force: true }); });
  const debian = [
    'kernel/fs/isofs/isofs.ko', 'kernel/fs/fat/fat.ko', 'kernel/fs/fat/vfat.ko', 'kernel/fs/fat/msdos.ko',
    'kernel/fs/udf/udf.ko', 'kernel/fs/ntfs3/ntfs3.ko', 'kernel/fs/exfat/exfat.ko', 'kernel/lib/crc-itu-t.ko',
  ];
  const dep = [
    'kernel/fs/isofs/isofs.ko:', 'kernel/fs/fat/fat.ko:', 'kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko',
    'kernel/fs/fat/msdos.ko: kernel/fs/fat/fat.ko', 'kernel/fs/udf/udf.ko: kernel/lib/crc-itu-t.ko', 'kernel/fs/ntfs3/ntfs3.ko:',
    'kernel/fs/exfat/exfat.ko:',
  ];

  it('finds iso9660 in fs/isofs, vfat and msdos in fs/fat, udf, ntfs3 and exfat by module name', () => {
    const dir = tree(debian, dep, ['kernel/fs/ext4/ext4.ko']);
    for (const t of ['iso9660', 'vfat', 'msdos', 'udf', 'ntfs3', 'exfat', 'ext4']) assert.strictEqual(fsModuleAvailable(t, dir), true, t);
    for (const t of ['xfs', 'btrfs', 'hfsplus']) assert.strictEqual(fsModuleAvailable(t, dir), false, t);
  });

  it('reads compressed module names (.ko.xz, .ko.zst) from modules.dep', () => {
    const dir = tree([], ['kernel/fs/isofs/isofs.ko.xz:', 'kernel/fs/udf/udf.ko.zst: kernel/lib/crc-itu-t.ko.zst']);
    assert.strictEqual(fsModuleAvailable('iso9660', dir), true);
    assert.strictEqual(fsModuleAvailable('udf', dir), true);
    assert.strictEqual(fsModuleAvailable('vfat', dir), false);
  });

  it('without modules.dep, looks for the module file under kernel/fs', () => {
    const dir = tree(debian, null);
    assert.strictEqual(fsModuleAvailable('iso9660', dir), true);
    assert.strictEqual(fsModuleAvailable('vfat', dir), true);
    assert.strictEqual(fsModuleAvailable('xfs', dir), false);
  });

  it('a folder named after the file system is not a module', () => {
    const dir = tree(['kernel/fs/iso9660/README'], null);
    assert.strictEqual(fsModuleAvailable('iso9660', dir), false);
    assert.strictEqual(fsModuleAvailable('iso9660', null), false);
  });
});
