#!/usr/bin/env node
// Generates small real disk images for the test workspaces and the `npm start` sample workspace:
//   node scripts/make-sample-images.js <dir>
//   disk.img            8 MiB raw ext4 (mkfs.ext4 -d) holding a few files
//   fixed disk.vhd      fixed VHD of the same ext4 content (qemu-img, subformat=fixed, force_size=on)
//   install media.iso   ISO 9660 + Rock Ridge + Joliet (xorriso -as mkisofs)
//   notes.txt           not an image (menus must not offer Attach on it)
// Names with a space are deliberate: nothing may go through a shell.
'use strict';
const cp = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const TOOLS = { 'mkfs.ext4': 'e2fsprogs', 'qemu-img': 'qemu-utils', xorriso: 'xorriso' };

function run(cmd, args) {
  const r = cp.spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error && r.error.code === 'ENOENT') throw new Error(`${cmd} not found: apt-get install ${TOOLS[cmd]}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr || r.stdout}`);
}

function writeContent(dir, label) {
  fs.mkdirSync(path.join(dir, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'hello.txt'), `Hello from the ${label} sample image made by vdisk.\n`);
  fs.writeFileSync(path.join(dir, 'docs/readme.txt'), 'Files inside a generated disk image.\n');
  fs.writeFileSync(path.join(dir, 'docs/numbers.bin'), Buffer.from(Array.from({ length: 4096 }, (_, i) => i & 0xff)));
}

/** Writes the sample images into `dir` (created if needed); returns { name: absolutePath }. */
function makeSampleImages(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-sample-src-'));
  try {
    writeContent(src, 'ext4');
    const img = path.join(dir, 'disk.img');
    fs.rmSync(img, { force: true });
    // -E root_owner keeps files root-owned-independent of who runs it; -d copies the folder in
    run('mkfs.ext4', ['-q', '-F', '-t', 'ext4', '-L', 'VDISK-SAMPLE', '-E', 'root_owner=0:0', '-d', src, img, '8M']);
    const vhd = path.join(dir, 'fixed disk.vhd');
    fs.rmSync(vhd, { force: true });
    run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', img, vhd]);
    const isoSrc = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-sample-iso-'));
    try {
      writeContent(isoSrc, 'ISO');
      const iso = path.join(dir, 'install media.iso');
      fs.rmSync(iso, { force: true });
      run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'VDISK_SAMPLE', '-o', iso, isoSrc]);
    } finally {
      fs.rmSync(isoSrc, { recursive: true, force: true });
    }
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'Not a disk image: Explorer offers no Attach entry for this file.\n');
  } finally {
    fs.rmSync(src, { recursive: true, force: true });
  }
  const names = ['disk.img', 'fixed disk.vhd', 'install media.iso', 'notes.txt'];
  return Object.fromEntries(names.map((n) => [n, path.join(dir, n)]));
}

module.exports = { makeSampleImages };

if (require.main === module) {
  const dir = process.argv[2];
  if (!dir) { console.error('usage: node scripts/make-sample-images.js <dir>'); process.exit(1); }
  try {
    for (const [n, p] of Object.entries(makeSampleImages(path.resolve(dir)))) console.log(`${n}\t${fs.statSync(p).size} bytes`);
  } catch (e) {
    console.error(`make-sample-images: ${e.message}`);
    process.exit(2);
  }
}
