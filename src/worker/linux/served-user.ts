// An elevated worker (started through sudo or pkexec) acts for the user who started it: it serves only that user's
// connection and checks every file it opens, and every mount point it makes, against that user's rights.
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import type { ImageInfo } from '../../common/image';
import { filesOpened } from '../policy';
import { setLayerAccessCheck } from '../../formats/layers';

export interface ServedUser { uid: number; gid: number; name: string }

let served: ServedUser | null = null;

export function servedUser(): ServedUser | null { return served; }

function passwdEntry(uid: number): { name: string; gid: number } | null {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 3 && Number(f[2]) === uid) return { name: f[0], gid: Number(f[3]) };
    }
  } catch { /* no passwd */ }
  return null;
}

/**
 * The invoking user, as sudo (SUDO_UID/SUDO_GID) or pkexec (PKEXEC_UID) recorded it. Those are set by the setuid
 * program itself; a worker that runs as root without them has no one to serve and refuses to start elevated.
 */
export function serveInvokingUser(env: NodeJS.ProcessEnv = process.env): ServedUser {
  if (process.getuid?.() !== 0) throw new Error('--elevated: this worker is not running as root');
  const raw = env.PKEXEC_UID ?? env.SUDO_UID;
  const uid = Number(raw);
  if (raw === undefined || !Number.isInteger(uid) || uid < 0) throw new Error('--elevated: neither SUDO_UID nor PKEXEC_UID names the user to serve');
  const pw = passwdEntry(uid);
  const gid = env.PKEXEC_UID === undefined && env.SUDO_GID !== undefined ? Number(env.SUDO_GID) : pw?.gid ?? uid;
  served = { uid, gid, name: pw?.name ?? `uid ${uid}` };
  const user = served;
  // every layer the format layer, the engines and the block readers open is checked against this user's rights
  setLayerAccessCheck((real, write) => {
    const err = userAccess(user, [{ path: real, write }])[0];
    return err ? `${real}: ${user.name} may not ${write ? 'write' : 'read'} it (${err})` : null;
  });
  return served;
}

const CHECK = `
const fs = require('fs');
const out = [];
for (const [p, w] of JSON.parse(process.argv[1])) {
  try { fs.accessSync(p, fs.constants.R_OK | (w ? fs.constants.W_OK : 0)); out.push(null); }
  catch (e) { out.push(e.code || String(e)); }
}
process.stdout.write(JSON.stringify(out));`;

/**
 * access(2) for the served user, by a child that runs with that user's uid, gid and groups (setpriv): mode bits,
 * ACLs, search permission on every folder on the way, read-only mounts all count as they would for the user.
 * Returns, per file, null (allowed) or the errno code.
 */
export function userAccess(user: ServedUser, files: { path: string; write: boolean }[]): (string | null)[] {
  if (!files.length) return [];
  const groups = passwdEntry(user.uid) ? ['--init-groups'] : ['--clear-groups'];
  const r = cp.spawnSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, ...groups, '--', process.execPath, '-e', CHECK,
    JSON.stringify(files.map((f) => [f.path, f.write]))], { encoding: 'utf8', timeout: 15_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ELECTRON_RUN_AS_NODE: '1' } });
  try {
    const out = JSON.parse(r.stdout) as (string | null)[];
    if (Array.isArray(out) && out.length === files.length) return out;
  } catch { /* below */ }
  throw new WorkerError(ErrorCode.OsError, `Could not check ${user.name}'s access to the image (setpriv: ${(r.stderr || String(r.error ?? r.status)).trim()})`, { reason: 'access-check-failed' });
}

/** Refuses unless the served user may read every file (and write those written); no-op for a worker that is not elevated. */
export function requireUserAccess(files: { path: string; write: boolean }[]): void {
  const user = served;
  if (!user) return;
  const res = userAccess(user, files);
  const denied = files.map((f, i) => ({ ...f, err: res[i] })).filter((f) => f.err);
  if (!denied.length) return;
  const d = denied[0];
  throw new WorkerError(ErrorCode.PermissionDenied,
    `${user.name} cannot ${d.write ? 'write' : 'read'} ${d.path} (${d.err}): the elevated worker opens only what you could open yourself`,
    { reason: 'user-access', path: d.path });
}

/** What the elevated worker made for the served user (a mount point, a new image, extracted files): theirs, not root's. */
export function giveToUser(file: string): void {
  if (!served) return;
  const u = served;
  const walk = (p: string) => {
    fs.lchownSync(p, u.uid, u.gid);
    if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(file);
}

/**
 * Every file the attach opens (every layer of the chain: parents, qcow2 backing and data files, VMDK extents) must be
 * readable by the served user, and the files written writable.
 */
export async function requireUserAccessToImage(image: ImageInfo, readOnly: boolean): Promise<void> {
  if (!served) return;
  requireUserAccess(filesOpened(image, readOnly));
}

/** The elevated worker detaches, mounts and unmounts only disks it attached for the served user. */
export function requireServedOwner(record: { forUid?: number } | undefined, device: string): void {
  if (!served || record?.forUid === served.uid) return;
  throw new WorkerError(ErrorCode.PermissionDenied,
    `${device} was not attached by ${served.name} through vdisk: the elevated worker changes only that user's disks`, { reason: 'not-yours' });
}
