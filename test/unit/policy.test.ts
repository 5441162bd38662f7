// The worker's policy (src/worker/policy.ts): one table of rules, and capabilities derived from a probed environment.
import * as assert from 'assert';
import * as P from '../../src/common/protocol';
import type { ImageInfo } from '../../src/common/image';
import { capabilities, checkAttach, Environment, filesOpened, IMAGE_KINDS } from '../../src/worker/policy';
import { capabilityReport, kindOf } from '../../src/common/describe-capabilities';
import { extensionsOf } from '../../src/common/formats';
import { FORMAT_REGISTRY } from '../../src/formats/registry';

const TOOLS = { 'qemu-storage-daemon': true, vhdimount: true, fusermount3: true, udisksctl: true, pkexec: true, sudo: true, fuseiso: true, 'ntfs-3g': true, fusefat: true };
function env(o: Partial<Environment> = {}): Environment {
  return { platform: 'linux', user: { uid: 1000, name: 'ann' }, privileged: false, elevated: false, loop: true, fuse: true, tools: { ...TOOLS },
    udisks: 'systemd-udevd is not running', polkitAgent: null, virtdisk: null, browse: false, userAllowOther: false, notes: [], ...o };
}
function image(format: ImageInfo['format'], subtype: ImageInfo['subtype'] = null, o: Partial<ImageInfo> = {}): ImageInfo {
  return { path: `/img/a.${format}`, format, subtype, virtualSize: 1 << 20, fileSize: 1 << 20, blockSize: null, logicalSectorSize: 512, physicalSectorSize: 512,
    id: null, virtualDiskId: null, creator: null, parent: null, chain: [{ path: `/img/a.${format}`, format, subtype, id: null }], needsLogReplay: false, problems: [], ...o };
}
const kind = (c: P.Capabilities, k: P.ImageKind) => c.kinds.find((x) => x.kind === k)!;
const refuses = (f: () => void, reason: string) => assert.throws(f, (e: unknown) => {
  const err = e as { code?: number; data?: P.ErrorData };
  return err.code === P.ErrorCode.UnsupportedImage && err.data?.reason === reason;
});

describe('policy', () => {
  it('derives each kind\'s extensions and Windows\' answer from the format registry', () => {
    const linux = capabilities(env({ privileged: true }));
    const win = capabilities(env({ platform: 'win32', privileged: true }));
    assert.deepStrictEqual([...new Set(linux.kinds.flatMap((k) => k.extensions))].sort(), extensionsOf(() => true).map((e) => `.${e}`).sort());
    assert.deepStrictEqual(linux.kinds.filter((k) => k.extensions.includes('.avhdx')).map((k) => k.kind), ['vhdx-differencing']);
    for (const d of Object.values(FORMAT_REGISTRY)) {
      for (const subtype of [null, 'fixed', 'dynamic', 'differencing'] as const) {
        const k = kind(win, kindOf({ format: d.id, subtype }));
        assert.strictEqual(k.engine, d.virtDisk ? 'virtdisk' : null, `${d.id} ${subtype}`);
        assert.strictEqual(k.readWrite, d.virtDisk && !d.readOnlyMedium ? 'yes' : 'no', `${d.id} ${subtype}`);
      }
    }
  });

  it('refuses what the formats forbid, with the reasons the host knows', () => {
    refuses(() => checkAttach(image('iso'), false, 'linux'), 'iso-read-write');
    refuses(() => checkAttach(image('udf'), false, 'win32'), 'iso-read-write');
    refuses(() => checkAttach(image('vhd', 'differencing'), false, 'linux'), 'differencing-read-write');
    refuses(() => checkAttach(image('vhdx', 'differencing'), false, 'linux'), 'differencing-read-write');
    assert.throws(() => checkAttach(image('vhdx', 'differencing'), false, 'linux'), /cannot be attached read-write here.*read-only/);
    checkAttach(image('vhdx', 'differencing'), true, 'linux'); // vdisk's own FUSE server reads the chain
    checkAttach(image('vhd', 'differencing'), true, 'linux');
    assert.throws(() => checkAttach(image('raw'), true, 'win32'), (e: unknown) => (e as { code: number }).code === P.ErrorCode.NotSupported
      && (e as { data: P.ErrorData }).data.reason === 'raw-not-attachable-on-windows' && /"Browse Disk Image"/.test((e as Error).message));
    refuses(() => checkAttach(image('qcow2'), true, 'win32'), 'format-not-attachable-on-windows');
    checkAttach(image('vhdx', 'differencing'), false, 'win32');
    checkAttach(image('iso'), true, 'linux');
    checkAttach(image('qcow2'), false, 'linux');
  });

  it('root on Linux: everything the formats allow, each by its engine', () => {
    const c = capabilities(env({ privileged: true, user: { uid: 0, name: 'root' } }));
    assert.deepStrictEqual(c.kinds.map((k) => k.kind), IMAGE_KINDS);
    // read-only dynamic VHD/VHDX: vdisk's own FUSE server (linux/plan.ts); read-write: qemu-storage-daemon
    assert.deepStrictEqual([kind(c, 'vhdx').readOnly, kind(c, 'vhdx').readWrite, kind(c, 'vhdx').engine], ['yes', 'yes', 'vdisk-fuse']);
    assert.deepStrictEqual([kind(c, 'qcow2').readOnly, kind(c, 'qcow2').readWrite, kind(c, 'qcow2').engine], ['yes', 'yes', 'qemu']);
    assert.deepStrictEqual([kind(c, 'iso').readOnly, kind(c, 'iso').readWrite], ['yes', 'no']);
    assert.deepStrictEqual([kind(c, 'vhd-differencing').readOnly, kind(c, 'vhd-differencing').readWrite, kind(c, 'vhd-differencing').engine], ['yes', 'no', 'vdisk-fuse']);
    assert.deepStrictEqual([kind(c, 'vhdx-differencing').readOnly, kind(c, 'vhdx-differencing').readWrite, kind(c, 'vhdx-differencing').engine], ['yes', 'no', 'vdisk-fuse']);
    assert.match(kind(c, 'vhdx-differencing').readWriteWhy!, /read-only on Linux.*Merge or Convert/);
    assert.ok(c.elevation.every((e) => !e.available));
  });

  it('a user with sudo but no udisks: every kind "with elevation"', () => {
    const c = capabilities(env());
    for (const k of c.kinds) assert.strictEqual(k.readOnly, 'elevation', k.kind);
    assert.match(kind(c, 'vhdx-differencing').readOnlyWhy!, /Not root: vdisk's FUSE server mounts its export/);
    assert.strictEqual(kind(c, 'raw').readWrite, 'elevation');
    assert.strictEqual(kind(c, 'iso').readWrite, 'no');
    assert.deepStrictEqual(c.elevation.map((e) => [e.route, e.available]), [['pkexec', false], ['sudo', true]]);
    assert.match(kind(c, 'vhdx').readOnlyWhy!, /Not root/);
  });

  it('a desktop user: udisks attaches loop kinds itself, pkexec elevates the rest', () => {
    const c = capabilities(env({ udisks: null, polkitAgent: 'polkit-gnome-au', tools: { ...TOOLS, sudo: false } }));
    assert.strictEqual(kind(c, 'vhd-fixed').readWrite, 'yes');
    assert.strictEqual(kind(c, 'qcow2').readWrite, 'elevation');
    assert.deepStrictEqual(c.elevation.find((e) => e.available)?.route, 'pkexec');
    assert.strictEqual(c.unprivilegedRoute?.available, true);
    assert.match(kind(c, 'qcow2').readOnlyWhy!, /only if \/etc\/fuse\.conf has the line user_allow_other .*ask an administrator to add that line, or Retry as Root, or Browse Instead/);
    assert.match(c.unprivilegedRoute!.detail, /not the formats served through FUSE \(they need the line user_allow_other in \/etc\/fuse\.conf/);
  });

  it('user_allow_other: udisks takes the user\'s own FUSE exports, every format without root (read-write where the format allows)', () => {
    const c = capabilities(env({ udisks: null, userAllowOther: true, tools: { ...TOOLS, fusermount: true } }));
    for (const k of ['vhd-dynamic', 'vhdx', 'qcow2', 'vmdk', 'vdi'] as P.ImageKind[]) assert.deepStrictEqual([kind(c, k).readOnly, kind(c, k).readWrite], ['yes', 'yes'], k);
    assert.deepStrictEqual([kind(c, 'vhd-differencing').readOnly, kind(c, 'vhd-differencing').readWrite, kind(c, 'vhd-differencing').engine], ['yes', 'no', 'vhdimount']);
    assert.strictEqual(kind(c, 'vhdx-differencing').readOnly, 'elevation', 'vdisk\'s own FUSE server needs root');
    assert.match(kind(c, 'vhdx-differencing').readOnlyWhy!, /mount\(2\)/);
    assert.match(c.unprivilegedRoute!.detail, /through your own qemu-storage-daemon or vhdimount FUSE export/);
    // vhdimount (libfuse2) mounts with fusermount; without it only its kind falls back to elevation, naming it
    const noFuse2 = capabilities(env({ udisks: null, userAllowOther: true, tools: { ...TOOLS, fusermount: false } }));
    assert.strictEqual(kind(noFuse2, 'qcow2').readOnly, 'yes');
    assert.strictEqual(kind(noFuse2, 'vhd-differencing').readOnly, 'elevation');
    assert.match(kind(noFuse2, 'vhd-differencing').readOnlyWhy!, /fusermount \(fuse3 \(or fuse\)\) is missing/);
    // udisks itself unusable: user_allow_other does not help
    const noUdisks = capabilities(env({ userAllowOther: true }));
    assert.strictEqual(kind(noUdisks, 'qcow2').readOnly, 'elevation');
    assert.match(kind(noUdisks, 'qcow2').readOnlyWhy!, /udisks2 cannot be used either \(systemd-udevd is not running\)/);
  });

  it('no route at all: "no", naming what is missing', () => {
    const c = capabilities(env({ tools: { ...TOOLS, sudo: false, pkexec: false } }));
    assert.strictEqual(kind(c, 'vhdx').readOnly, 'no');
    assert.deepStrictEqual(kind(c, 'vhdx').missing.map((m) => m.tool), ['sudo']);
    assert.match(capabilityReport(c), /sudo: install sudo/);
  });

  it('a missing tool makes its engine "no" for everyone and names the package', () => {
    const c = capabilities(env({ privileged: true, tools: { ...TOOLS, 'qemu-storage-daemon': false, 'ntfs-3g': false } }));
    assert.strictEqual(kind(c, 'qcow2').readOnly, 'no');
    assert.deepStrictEqual(kind(c, 'vhdx').missing, [{ tool: 'qemu-storage-daemon', provider: 'qemu-system-common (Debian/Ubuntu)', for: 'dynamic VHD, VHDX, qcow2, VMDK, VDI' }]);
    // read-only VHDX needs no tool (vdisk's own server); read-write still needs qemu-storage-daemon
    assert.deepStrictEqual([kind(c, 'vhdx').readOnly, kind(c, 'vhdx').readWrite], ['yes', 'no']);
    assert.match(kind(c, 'vhdx').readWriteWhy!, /qemu-storage-daemon/);
    assert.strictEqual(kind(c, 'vhd-differencing').readOnly, 'yes', 'vdisk\'s own FUSE server needs no tool');
    const report = capabilityReport(c);
    assert.match(report, /qemu-storage-daemon: install qemu-system-common/);
    assert.match(report, /ntfs-3g: install ntfs-3g \(to mount NTFS\)/);
  });

  it('Windows: VHD, VHDX and ISO through VirtDisk with UAC; raw, qcow2, VMDK, VDI never', () => {
    const c = capabilities(env({ platform: 'win32', user: { uid: null, name: 'ann' }, tools: {} }));
    for (const k of ['raw', 'qcow2', 'vmdk', 'vdi'] as const) assert.deepStrictEqual([kind(c, k).readOnly, kind(c, k).readWrite, kind(c, k).engine], ['no', 'no', null], k);
    assert.deepStrictEqual([kind(c, 'vhdx-differencing').readWrite, kind(c, 'vhdx-differencing').engine], ['elevation', 'virtdisk']);
    assert.strictEqual(kind(c, 'iso').readWrite, 'no');
    assert.deepStrictEqual(c.elevation, [{ route: 'uac', available: true, detail: 'the Windows UAC prompt starts an elevated worker' }]);
    const admin = capabilities(env({ platform: 'win32', privileged: true, tools: {} }));
    assert.strictEqual(kind(admin, 'vhd-dynamic').readWrite, 'yes');
    const broken = capabilities(env({ platform: 'win32', virtdisk: 'VirtDisk.dll could not be loaded', tools: {} }));
    assert.strictEqual(kind(broken, 'vhdx').readOnly, 'no');
    assert.strictEqual(kind(broken, 'vhdx').missing[0].tool, 'VirtDisk.dll');
  });

  it('browsing is reported only when the build has it', () => {
    assert.ok(capabilities(env()).kinds.every((k) => !k.browse));
    assert.ok(capabilities(env({ browse: true })).kinds.every((k) => k.browse));
  });

  it('lists every file an attach opens: chain, qcow2 backing file, VMDK extents', () => {
    const chain = image('vhdx', 'differencing', { chain: [{ path: '/a/c.avhdx', format: 'vhdx', subtype: 'differencing', id: null }, { path: '/b/p.vhdx', format: 'vhdx', subtype: 'dynamic', id: null }] });
    assert.deepStrictEqual(filesOpened(chain, true), [{ path: '/a/c.avhdx', write: false }, { path: '/b/p.vhdx', write: false }]);
    // every layer comes from the chain the format layer resolved (src/formats/layers.ts), with its role
    assert.deepStrictEqual(filesOpened(image('qcow2', null, { chain: [
      { path: '/img/a.qcow2', format: 'qcow2', subtype: 'dynamic', id: null, role: 'image', level: 1 },
      { path: '/data/a.raw', format: 'raw', subtype: null, id: null, role: 'data-file', level: 1, of: 0 },
      { path: '/base.qcow2', format: 'qcow2', subtype: 'dynamic', id: null, role: 'backing', level: 2, of: 0 },
      { path: '/base.raw', format: 'raw', subtype: null, id: null, role: 'data-file', level: 2, of: 2 }] }), false),
    [{ path: '/img/a.qcow2', write: true }, { path: '/data/a.raw', write: true }, { path: '/base.qcow2', write: false }, { path: '/base.raw', write: false }]);
    assert.deepStrictEqual(filesOpened(image('vmdk', null, { chain: [
      { path: '/img/a.vmdk', format: 'vmdk', subtype: 'fixed', id: null, role: 'image', level: 1 },
      { path: '/img/a-flat.vmdk', format: 'raw', subtype: null, id: null, role: 'extent', level: 1, of: 0 }] }), false),
    [{ path: '/img/a.vmdk', write: true }, { path: '/img/a-flat.vmdk', write: true }]);
  });
});
