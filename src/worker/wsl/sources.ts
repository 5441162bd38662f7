// The places findWslDisks looks, per OS: Windows reads the registry (registry.ts) and %LOCALAPPDATA%; inside WSL
// (WSL_DISTRO_NAME or the WSLInterop binfmt entry) reg.exe through interop, and every user's AppData\Local under
// the Windows drive mounted at /mnt/c. VDISK_TEST_WSL_MNT replaces /mnt in tests (a fake Windows drive tree).
import * as cp from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { LxssEntry, parseRegQuery, WslSources } from './find';
import { LXSS_KEY } from './registry';

export function insideWsl(): boolean {
  return process.platform === 'linux' && (!!process.env.WSL_DISTRO_NAME || fs.existsSync('/proc/sys/fs/binfmt_misc/WSLInterop'));
}

export function windowsSources(read: () => LxssEntry[]): WslSources {
  return {
    where: 'windows',
    async lxss() { try { return read(); } catch (e) { return { error: (e as Error).message }; } },
    localAppData: () => (process.env.LOCALAPPDATA ? [process.env.LOCALAPPDATA] : []),
    local: (p) => p,
  };
}

export function wslSources(mnt = process.env.VDISK_TEST_WSL_MNT || '/mnt'): WslSources {
  const local = (p: string): string | null => {
    const m = /^([A-Za-z]):\\(.*)$/.exec(p);
    return m ? path.join(mnt, m[1].toLowerCase(), ...m[2].split('\\').filter(Boolean)) : null;
  };
  return {
    where: 'wsl',
    async lxss() {
      const reg = path.join(mnt, 'c/Windows/System32/reg.exe');
      if (!fs.existsSync(reg)) return { error: `${reg} is not there (interop off, or C: not mounted at ${mnt}/c)` };
      const r = cp.spawnSync(reg, ['query', `HKCU\\${LXSS_KEY}`, '/s'], { encoding: 'utf8', timeout: 15_000 });
      if (r.error || r.status !== 0) return { error: `reg.exe query failed: ${(r.error?.message ?? r.stderr ?? '').trim()}` };
      return parseRegQuery(r.stdout);
    },
    localAppData() {
      const users = path.join(mnt, 'c/Users');
      let names: string[] = [];
      try { names = fs.readdirSync(users); } catch { return []; }
      return names.map((u) => path.join(users, u, 'AppData/Local')).filter((d) => fs.existsSync(d));
    },
    local,
  };
}
