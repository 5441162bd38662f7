// Explorer's Detach and the host's disk lookups match an image path the way the OS does: on Windows
// case-insensitively, with the drive letter, separators and VirtDisk's `\\?\` prefix normalised.
import * as assert from 'assert';
import { imagePathKey, normaliseWindowsPath, sameImagePath, whenClauseSpellings } from '../../src/common/image-paths';

describe('image path matching (Explorer Detach, tree lookups)', () => {
  it('Windows: drive letter case, folder case, \\\\?\\ prefixes and separators do not matter', () => {
    const reported = '\\\\?\\C:\\VMs\\Disk One.VHDX';
    for (const explorer of ['c:\\VMs\\Disk One.VHDX', 'C:\\vms\\disk one.vhdx', 'c:/VMs/Disk One.vhdx', 'C:\\VMs\\Disk One.VHDX']) {
      assert.ok(sameImagePath(reported, explorer, 'win32'), explorer);
    }
    assert.ok(sameImagePath('\\\\?\\UNC\\srv\\share\\a.vhdx', '\\\\SRV\\Share\\A.vhdx', 'win32'));
    assert.ok(!sameImagePath('C:\\VMs\\a.vhdx', 'D:\\VMs\\a.vhdx', 'win32'));
    assert.ok(!sameImagePath('C:\\VMs\\a.vhdx', 'C:\\VMs\\a.vhd', 'win32'));
    assert.ok(!sameImagePath(null, 'C:\\a.vhdx', 'win32'));
    assert.strictEqual(normaliseWindowsPath('\\\\.\\d:\\x\\'), 'D:\\x');
    assert.strictEqual(normaliseWindowsPath('c:\\'), 'C:\\');
  });

  it('Linux: exact (file names are case-sensitive there)', () => {
    assert.ok(sameImagePath('/srv/a.img', '/srv/a.img', 'linux'));
    assert.ok(!sameImagePath('/srv/A.img', '/srv/a.img', 'linux'));
    assert.strictEqual(imagePathKey('/srv/A.img', 'linux'), '/srv/A.img');
  });

  it('the when-clause list holds the Uri.fsPath spelling (lower-case drive) and the file\'s own spelling', () => {
    const s = whenClauseSpellings('\\\\?\\C:\\VMS\\disk.vhdx', 'win32', 'C:\\VMs\\Disk.vhdx');
    for (const want of ['\\\\?\\C:\\VMS\\disk.vhdx', 'C:\\VMS\\disk.vhdx', 'c:\\VMS\\disk.vhdx', 'C:\\VMs\\Disk.vhdx', 'c:\\VMs\\Disk.vhdx']) {
      assert.ok(s.includes(want), `${want} missing from ${JSON.stringify(s)}`);
    }
    assert.deepStrictEqual(whenClauseSpellings('/srv/a.img', 'linux', '/srv/a.img'), ['/srv/a.img']);
  });
});
