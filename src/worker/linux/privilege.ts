// What an unprivileged worker lacks, said exactly. Root (or write access to /dev/loop-control with
// CAP_SYS_ADMIN) attaches directly; otherwise udisks2 over the system D-Bus does it (udisks.ts).
import * as fs from 'fs';
import { udisksProblem, udisksStaticProblem } from './udisks';

export { systemBusSocket } from './udisks';

/** Null when this process can set up loop devices itself; otherwise why not. */
export function directLoopProblem(): string | null {
  if (process.getuid?.() === 0) return null;
  try {
    fs.accessSync('/dev/loop-control', fs.constants.W_OK);
    return null; // a loop-control group member: LOOP_CONFIGURE itself still needs CAP_SYS_ADMIN and fails with EPERM if absent
  } catch (e) { return `cannot open /dev/loop-control for writing (${(e as NodeJS.ErrnoException).code})`; }
}

function neither(direct: string, udisks: string): string {
  return `Not running as root (uid ${process.getuid?.()}): the worker ${direct}, and udisks2 cannot be used instead: ${udisks}. `
    + 'Run VS Code (or the vdisk CLI) as root, or fix what udisks2 lacks.';
}

/** Null when attaching can work (directly or through udisks, judged without waiting); otherwise what is missing. */
export function privilegeProblem(): string | null {
  const direct = directLoopProblem();
  if (!direct) return null;
  const u = udisksStaticProblem();
  return u ? neither(direct, u) : null;
}

/** How this worker attaches: 'direct' (ioctls), 'udisks', or the exact reason neither works (asks the bus, ≤ 3 s). */
export async function attachRoute(): Promise<{ route: 'direct' | 'udisks' } | { problem: string }> {
  const direct = directLoopProblem();
  if (!direct) return { route: 'direct' };
  const u = await udisksProblem();
  return u ? { problem: neither(direct, u) } : { route: 'udisks' };
}
