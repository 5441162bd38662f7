// Run as nobody by linux-udisks-fuse.test.ts: a real worker attaches images that qemu-storage-daemon or vhdimount
// serve, through the user's own FUSE export handed to udisks2 (no root anywhere), mounts, reads, writes where the
// attach is read-write, unmounts and detaches; then holds a mounted session disk and is killed (-9) by itself, so the
// test can check that the reaper left nothing. Prints one JSON object.
import * as fs from 'fs';
import * as path from 'path';
import * as P from '../../src/common/protocol';
import { WorkerClient } from '../../src/host/worker-client';

const WORKER = path.resolve(__dirname, '../../../dist/worker.js');
const quiet = () => undefined;

async function main(): Promise<void> {
  const [imagesJson, fileInImage] = process.argv.slice(2);
  const images = JSON.parse(imagesJson) as Record<'qcow2' | 'vhdx' | 'chain' | 'vmdk', string>;
  const out: Record<string, unknown> = {};
  const client = new WorkerClient({ workerPath: WORKER, client: 'udisks-fuse-test', shutdownTimeoutMs: 10_000,
    log: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: quiet } });
  const tryIt = (f: () => void) => { try { f(); return 'ok'; } catch (e) { return (e as NodeJS.ErrnoException).code ?? String(e); } };
  try {
    const caps = await client.request(P.GetCapabilities);
    out.caps = Object.fromEntries(caps.kinds.map((k) => [k.kind, [k.readOnly, k.readWrite]]));
    out.route = caps.unprivilegedRoute;
    const round = async (name: string, image: string, readOnly: boolean, lifetime: P.Lifetime) => {
      const disk = await client.request(P.Attach, { path: image, readOnly, lifetime });
      const vols = await client.request(P.Mount, { device: disk.device });
      const mp = vols.find((v) => v.mountPoint)?.mountPoint ?? null;
      const content = mp ? fs.readFileSync(path.join(mp, fileInImage), 'utf8') : null;
      const write = tryIt(() => fs.writeFileSync(path.join(mp ?? '/nonexistent', 'new.txt'), `written by nobody through ${name}\n`));
      const backing = fs.readFileSync(`/sys/block/${path.basename(disk.device)}/loop/backing_file`, 'utf8').trim();
      // the allow_other export sits in the user's own scratch folder, which no other user can enter
      const scratch = backing.slice(0, backing.indexOf('/', backing.indexOf('/engines/') + 9));
      const st = fs.statSync(scratch);
      const scratchMode = `${st.uid} ${(st.mode & 0o777).toString(8)}`;
      const unmounted = (await client.request(P.Unmount, { device: disk.device })).every((v) => !v.mountPoint);
      const detached = (await client.request(P.Detach, { target: disk.device })).device;
      out[name] = { engine: disk.engine, device: disk.device, readOnly: disk.readOnly, lifetime: disk.lifetime, sizeBytes: disk.sizeBytes, mountPoint: mp, content, write, backing, scratchMode, unmounted, detached };
    };
    await round('qcow2', images.qcow2, false, 'permanent');
    await round('vhdx', images.vhdx, true, 'session');
    await round('chain', images.chain, true, 'permanent');
    await round('vmdk', images.vmdk, true, 'session');
    // kill -9 with a mounted session disk: the reaper asks udisks to unmount and delete the loop, stops the daemon
    const doomed = await client.request(P.Attach, { path: images.qcow2, readOnly: true, lifetime: 'session' });
    const kv = await client.request(P.Mount, { device: doomed.device });
    out.killed = { device: doomed.device, mountPoint: kv.find((v) => v.mountPoint)?.mountPoint ?? null,
      backing: fs.readFileSync(`/sys/block/${path.basename(doomed.device)}/loop/backing_file`, 'utf8').trim() };
    process.kill(client.pid!, 'SIGKILL');
  } catch (e) {
    out.error = { code: (e as { code?: number }).code, message: (e as Error).message };
  }
  await client.stop().catch(() => undefined);
  process.stdout.write(JSON.stringify(out));
}

void main().then(() => process.exit(0));
