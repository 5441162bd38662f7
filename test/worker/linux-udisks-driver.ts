// Run as an unprivileged user by linux-udisks.test.ts: drives a real worker through attach, list, mount, unmount,
// detach and a session attach ended by shutdown, printing one JSON object with what each step returned.
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const quiet = () => undefined;

async function main(): Promise<void> {
  const [image, fileInImage] = process.argv.slice(2);
  const out: Record<string, unknown> = {};
  const client = new WorkerClient({ workerPath: WORKER, client: 'udisks-test', shutdownTimeoutMs: 10_000,
    log: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try { const v = await f(); out[name] = v; return v; } catch (e) {
      out[name] = { error: (e as { code?: number }).code, message: (e as Error).message };
      throw e;
    } finally { out[`${name}Ms`] = Date.now() - t; }
  };
  try {
    const disk = await step('attach', () => client.request(P.Attach, { path: image, readOnly: false, lifetime: 'permanent' }));
    try { fs.closeSync(fs.openSync(disk.device, 'r')); out.openDevice = 'ok'; } catch (e) { out.openDevice = (e as NodeJS.ErrnoException).code; }
    const st = fs.statSync(disk.device);
    out.deviceMode = `${st.uid}:${st.gid} ${(st.mode & 0o777).toString(8)}`;
    await step('list', () => client.request(P.List));
    const vols = await step('mount', () => client.request(P.Mount, { device: disk.device }));
    const mp = vols.find((v) => v.mountPoint)?.mountPoint;
    out.fileContent = mp ? fs.readFileSync(path.join(mp, fileInImage), 'utf8') : null;
    await step('unmount', () => client.request(P.Unmount, { device: disk.device }));
    await step('detach', () => client.request(P.Detach, { target: disk.device }));
    const session = await step('attachSession', () => client.request(P.Attach, { path: image, readOnly: true, lifetime: 'session' }));
    const rov = await step('mountSession', () => client.request(P.Mount, { device: session.device }));
    const rmp = rov.find((v) => v.mountPoint)?.mountPoint;
    out.sessionFileContent = rmp ? fs.readFileSync(path.join(rmp, fileInImage), 'utf8') : null;
    try { fs.writeFileSync(path.join(rmp ?? '/nonexistent', 'new.txt'), 'x'); out.sessionWrite = 'ok'; } catch (e) { out.sessionWrite = (e as NodeJS.ErrnoException).code; }
    await step('stop', async () => { await client.stop(); return 'stopped'; });
    // kill -9 with a mounted session disk: the worker's reaper asks udisks to unmount and delete the loop
    const doomed = await step('attachKilled', () => client.request(P.Attach, { path: image, readOnly: true, lifetime: 'session' }));
    const kv = await step('mountKilled', () => client.request(P.Mount, { device: doomed.device }));
    out.killedMountPoint = kv.find((v) => v.mountPoint)?.mountPoint ?? null;
    process.kill(client.pid!, 'SIGKILL');
    const bound = () => fs.existsSync(`/sys/block/${path.basename(doomed.device)}/loop/backing_file`);
    for (let i = 0; i < 150 && bound(); i++) await new Promise((r) => setTimeout(r, 100));
    out.killedLoopGone = !bound();
  } catch { /* recorded in out; the test cleans up */ }
  await client.stop().catch(() => undefined);
  process.stdout.write(JSON.stringify(out));
}

void main();
