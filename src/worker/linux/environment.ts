// The facts the policy (../policy.ts) decides from, probed on this Linux machine for this worker's user.
import * as fs from 'fs';
import * as os from 'os';
import type { Environment } from '../policy';
import { PROBED_TOOLS } from '../policy';
import { which } from './engines/process';
import { udisksProblem } from './udisks';
import { directLoopProblem } from './privilege';
import { servedUser } from './served-user';
import { FUSE_CONF, userAllowOther } from './fuse-conf';

/** Polkit authentication agents by process name (the comm is cut at 15 characters). */
const AGENTS = /^(polkit-gnome-au|polkit-kde-auth|polkit-mate-aut|lxpolkit|lxqt-policykit-|xfce-polkit|mate-polkit|gnome-shell|polkit-agent-he|hyprpolkitagent|cinnamon|budgie-polkit-d|pkttyagent)$/;

/** A polkit agent owned by `uid` that could answer pkexec, by its process name; null when none runs. */
export function polkitAgent(uid: number): string | null {
  let pids: string[] = [];
  try { pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)); } catch { return null; }
  for (const pid of pids) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (!AGENTS.test(comm)) continue;
      if (fs.statSync(`/proc/${pid}`).uid === uid) return comm;
    } catch { /* gone */ }
  }
  return null;
}

export function userName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && Number(f[2]) === uid) return f[0];
    }
  } catch { /* no passwd */ }
  try { return os.userInfo().username; } catch { return `uid ${uid}`; }
}

export async function linuxEnvironment(): Promise<Environment> {
  const uid = process.getuid?.() ?? -1;
  const served = servedUser();
  const privileged = directLoopProblem() === null;
  const tools: Record<string, boolean> = {};
  for (const t of PROBED_TOOLS) tools[t] = which(t) !== null;
  const notes: string[] = [];
  const udisks = privileged ? 'not needed (root)' : await udisksProblem();
  if (!privileged) notes.push(udisks ? `udisks2 cannot be used: ${udisks}` : 'udisks2 answers on the system bus');
  const agent = privileged ? null : polkitAgent(uid);
  if (!privileged && tools.pkexec) notes.push(agent ? `polkit agent: ${agent}` : 'no polkit authentication agent runs for this user');
  if (served) notes.push(`elevated worker serving ${served.name} (uid ${served.uid}): images are checked against that user's rights`);
  const allowOther = userAllowOther();
  notes.push(`${FUSE_CONF} ${allowOther ? 'has' : 'lacks'} user_allow_other${privileged ? '' : allowOther
    ? ' (udisks2 can take your FUSE exports: dynamic VHD, VHDX, qcow2, VMDK, VDI, differencing VHD)'
    : ' (without it udisks2 cannot take a FUSE export: the formats qemu-storage-daemon and vhdimount serve need root)'}`);
  return {
    platform: 'linux',
    user: served ? { uid: served.uid, name: served.name } : { uid, name: userName(uid) },
    privileged, elevated: served !== null,
    loop: fs.existsSync('/dev/loop-control'), fuse: fs.existsSync('/dev/fuse'),
    tools, udisks: privileged ? null : udisks, polkitAgent: agent, virtdisk: null, browse: false, notes, userAllowOther: allowOther,
  };
}
