// The facts the policy (../policy.ts) decides from on Windows: VirtDisk loads, and whether this process is elevated.
import * as os from 'os';
import type { Environment } from '../policy';
import type { VirtDisk } from './virtdisk';

export function windowsEnvironment(vd: () => VirtDisk): Environment {
  let virtdisk: string | null = null;
  let privileged = false;
  try { privileged = !!vd().api.IsUserAnAdmin(); } catch (e) { virtdisk = (e as Error).message; }
  let name = 'this user';
  try { name = os.userInfo().username; } catch { /* no profile */ }
  return {
    platform: 'win32', user: { uid: null, name }, privileged,
    // started by "Retry as Administrator": the UAC launch passes the secret file
    elevated: privileged && process.argv.includes('--secret-file'),
    loop: false, fuse: false, tools: {}, udisks: null, polkitAgent: null, virtdisk, browse: false, userAllowOther: false,
    notes: virtdisk ? [virtdisk] : [privileged ? 'running as administrator' : 'not elevated: attaching needs the UAC prompt'],
  };
}
