// Run by linux-pkexec.test.ts as an unprivileged user, inside a mount namespace whose /run/dbus is the test's private
// system bus (pkexec is setuid: GLib ignores DBUS_SYSTEM_BUS_ADDRESS there). "Retry as Root" with
// vdisk.linux.elevation = "pkexec": the host's own choice (elevationRoute) and launcher (spawnLauncher, what
// chooseLauncher builds for that route) run the real pkexec; polkit decides by the test's rule. Attaches, mounts, reads, unmounts and
// detaches a dynamic VHDX through the elevated worker, or reports how elevation failed. Prints JSON lines.
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { elevationRoute, spawnLauncher } from '../../src/host/elevation-launch';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const quiet = () => undefined;
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const [image, fileInImage] = process.argv.slice(2);
  const client = new WorkerClient({ workerPath: WORKER, client: 'pkexec-test', shutdownTimeoutMs: 10_000,
    log: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const logged: string[] = [];
  try {
    // the host's choice for vdisk.linux.elevation = "pkexec", from the unelevated worker's report
    const before = await client.request(P.GetCapabilities);
    const pick = elevationRoute(before, 'pkexec');
    say({ step: 'route', pick, pkexecReported: before.elevation.find((e) => e.route === 'pkexec') });
    if (!('route' in pick) || pick.route !== 'pkexec') throw new Error(`the host would not take pkexec: ${JSON.stringify(pick)}`);
    await client.elevate({ launcher: spawnLauncher(pick.route, { nodePath: process.execPath, interactive: false, onLog: (l) => logged.push(l) }), timeoutMs: 30_000 });
    const caps = client.info?.capabilities;
    say({ step: 'elevated', elevated: client.elevated, capsElevated: caps?.elevated, user: caps?.user });
    const disk = await client.request(P.Attach, { path: image, readOnly: true, lifetime: 'session' });
    const vols = await client.request(P.Mount, { device: disk.device });
    const mp = vols.find((v) => v.mountPoint)?.mountPoint ?? null;
    const content = mp ? fs.readFileSync(path.join(mp, fileInImage), 'utf8') : null;
    const unmounted = (await client.request(P.Unmount, { device: disk.device })).every((v) => !v.mountPoint);
    const detached = (await client.request(P.Detach, { target: disk.device })).device;
    say({ step: 'image', engine: disk.engine, device: disk.device, mountPoint: mp, content, unmounted, detached });
  } catch (e) {
    const err = e as { code?: number; message: string; data?: P.ErrorData };
    say({ step: 'error', code: err.code, message: err.message, reason: err.data?.reason, logged });
  } finally {
    await client.stop();
  }
}

void main().then(() => process.exit(0));
