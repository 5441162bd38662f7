// Access to the third-party images in ../shared/images (never copied into the repo).
// Tests call `sharedImage(ctx, 'vhd/dissect-win10-fixed.vhd.gz')`: it decompresses once per run
// into a temp folder and returns the path, or skips the test with a message saying what is absent.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import * as cp from 'child_process';

export const SHARED_IMAGES = process.env.VDISK_SHARED_IMAGES
  ?? path.resolve(__dirname, '../../../../shared/images');

let cacheDir: string | undefined;
function cache(): string {
  if (!cacheDir) {
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-shared-'));
    process.once('exit', () => fs.rmSync(cacheDir!, { recursive: true, force: true }));
  }
  return cacheDir;
}

export function sharedImagesAvailable(): boolean {
  return fs.existsSync(path.join(SHARED_IMAGES, 'README.md'));
}

/** Decompressed copy of a shared image (a fresh copy each call when `fresh`), or skip the test. */
export function sharedImage(ctx: Mocha.Context, rel: string, fresh = false): string {
  const src = path.join(SHARED_IMAGES, rel);
  if (!fs.existsSync(src)) {
    console.log(`    (skipped: ${src} is absent; the shared images folder is optional)`);
    ctx.skip();
    throw new Error('unreachable');
  }
  const name = rel.replace(/[\\/]/g, '_').replace(/\.(gz|xz)$/, '');
  const out = path.join(cache(), name);
  if (!fs.existsSync(out)) {
    if (rel.endsWith('.gz')) fs.writeFileSync(out, zlib.gunzipSync(fs.readFileSync(src)));
    else if (rel.endsWith('.xz')) fs.writeFileSync(out, cp.execFileSync('xz', ['-dc', src], { maxBuffer: 1 << 30 }));
    else fs.copyFileSync(src, out);
  }
  if (!fresh) return out;
  const copy = path.join(fs.mkdtempSync(path.join(cache(), 'copy-')), path.basename(out));
  fs.copyFileSync(out, copy);
  return copy;
}

/** Skips the whole suite with a clear message when ../shared/images is absent. */
export function requireSharedImages(ctx: Mocha.Context): void {
  if (!sharedImagesAvailable()) {
    console.log(`    (skipped: ${SHARED_IMAGES} is absent; set VDISK_SHARED_IMAGES to run these tests)`);
    ctx.skip();
  }
}
