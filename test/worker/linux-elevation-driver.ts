// Run as `nobody` by linux-elevation.test.ts: the host's "Retry as Root" with the terminal half replaced by the very
// command the VS Code terminal runs (elevationCommand('sudo', ...), no -n: sudo would prompt there). Attaches, mounts,
// reads, unmounts and detaches each image through the elevated worker, then holds a session disk until the test has
// killed the elevated worker (-9) and says "go", and shows the client recovering. Prints JSON lines.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';
import { ElevationLauncher, elevatedWorkerArgs, elevationCommand } from '../../src/host/elevation-launch';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const quiet = () => undefined;
const say = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const asTheTerminalDoes: ElevationLauncher = {
  route: 'sudo',
  launch: async (ctx) => {
    const { file, args } = elevationCommand('sudo', process.execPath, elevatedWorkerArgs(ctx.workerPath, ctx.session));
    const child = cp.spawn(file, args, { stdio: 'ignore' });
    const failed = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`sudo exited with ${code}`))));
    failed.catch(() => undefined);
    return { pid: child.pid, failed };
  },
};

async function main(): Promise<void> {
  const [imagesJson, fileInImage, lockedDir] = process.argv.slice(2);
  const images = JSON.parse(imagesJson) as Record<string, string>;
  const client = new WorkerClient({ workerPath: WORKER, client: 'elevation-test', shutdownTimeoutMs: 10_000,
    log: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const initialized: boolean[] = [];
  client.on('initialized', (i) => initialized.push(i.elevated));
  try {
    await client.elevate({ launcher: asTheTerminalDoes, timeoutMs: 30_000 });
    say({ step: 'elevated', elevated: client.elevated, pid: client.pid, caps: client.info?.capabilities?.elevated, user: client.info?.capabilities?.user });
    // root's reach never shows through: writing where nobody may not write is refused
    const refusal = async (f: () => Promise<unknown>) => { try { await f(); return 'done'; } catch (e) { return `${(e as { code?: number }).code}: ${(e as Error).message}`; } };
    say({ step: 'guards',
      create: await refusal(() => client.request(P.CreateImage, { path: path.join(lockedDir, 'new.vhdx'), format: 'vhdx', type: 'dynamic', size: 1 << 24 })),
      createDiff: await refusal(() => client.request(P.CreateDiff, { parent: images.vhdx, child: path.join(lockedDir, 'child.avhdx') })),
      inspect: await refusal(() => client.request(P.Inspect, { path: path.join(lockedDir, 'base.vhd') })) });
    for (const [name, image] of Object.entries(images)) {
      const disk = await client.request(P.Attach, { path: image, readOnly: true, lifetime: 'session' });
      const vols = await client.request(P.Mount, { device: disk.device });
      const mp = vols.find((v) => v.mountPoint)?.mountPoint ?? null;
      const content = mp ? fs.readFileSync(path.join(mp, fileInImage), 'utf8') : null;
      const owner = mp ? fs.statSync(path.dirname(mp)).uid : null;
      const unmounted = await client.request(P.Unmount, { device: disk.device });
      const detached = await client.request(P.Detach, { target: disk.device });
      say({ step: 'image', name, engine: disk.engine, device: disk.device, mountPoint: mp, content, owner, unmounted: unmounted.every((v) => !v.mountPoint), detached: detached.device });
    }
    const held = await client.request(P.Attach, { path: images.qcow2, readOnly: true, lifetime: 'session' });
    const vols = await client.request(P.Mount, { device: held.device });
    say({ step: 'killme', pid: client.pid, device: held.device, mountPoint: vols.find((v) => v.mountPoint)?.mountPoint });
    const rl = readline.createInterface({ input: process.stdin });
    await new Promise<void>((resolve) => rl.once('line', () => resolve()));
    rl.close();
    let recovered: unknown;
    try {
      const list = await client.request(P.List);
      recovered = { ok: true, elevated: client.elevated, stillListed: list.some((d) => d.device === held.device && d.image === images.qcow2) };
    } catch (e) { recovered = { ok: false, message: (e as Error).message }; }
    say({ step: 'recovered', recovered, initialized });
  } catch (e) {
    say({ step: 'error', message: (e as Error).message, code: (e as { code?: number }).code });
  } finally {
    await client.stop();
  }
}

void main().then(() => process.exit(0));
