// Crash-safety test hook: VDISK_TEST_CRASH_AFTER=<operation>:<step> makes the writer SIGKILL its own process right
// after that durable step, so tests can prove every intermediate state reads as before or as after. Unset in use.
export function stepDone(operation: string, step: number): void {
  const want = process.env.VDISK_TEST_CRASH_AFTER;
  if (want && want === `${operation}:${step}`) process.kill(process.pid, 'SIGKILL');
}
