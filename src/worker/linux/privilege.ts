// What an unprivileged worker lacks, said exactly. Root (or write access to /dev/loop-control with
// CAP_SYS_ADMIN) attaches directly; otherwise udisks2 over the system D-Bus would be the way.
import * as fs from 'fs';
import { which } from './engines/process';

export function systemBusSocket(): string {
  const addr = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  const m = addr && /unix:path=([^,;]+)/.exec(addr);
  return m ? m[1] : '/run/dbus/system_bus_socket';
}

/** Null when this process can attach loop devices itself; otherwise the reason and what is missing. */
export function privilegeProblem(): string | null {
  if (process.getuid?.() === 0) return null;
  let loopCtl = 'cannot open /dev/loop-control for writing';
  try {
    fs.accessSync('/dev/loop-control', fs.constants.W_OK);
    return null; // a loop-control group member: LOOP_CONFIGURE itself still needs CAP_SYS_ADMIN and fails with EPERM if absent
  } catch (e) { loopCtl = `cannot open /dev/loop-control for writing (${(e as NodeJS.ErrnoException).code})`; }
  const missing: string[] = [];
  if (!which('udisksctl')) missing.push('udisksctl is not installed (apt-get install udisks2)');
  const bus = systemBusSocket();
  if (!fs.existsSync(bus)) missing.push(`there is no system D-Bus at ${bus} (start dbus)`);
  const why = missing.length
    ? `and udisks2 cannot be used instead: ${missing.join('; ')}`
    : 'and attaching through udisks2 is not implemented by this build (udisksctl and the system bus are present)';
  return `Not running as root (uid ${process.getuid?.()}): the worker ${loopCtl}, ${why}. Run VS Code (or the vdisk CLI) as root, or attach with "udisksctl loop-setup -f <image>" yourself.`;
}
