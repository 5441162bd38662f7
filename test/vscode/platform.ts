// Suites that build their images with Linux tools (truncate, mkfs.ext4, xorriso, qemu-img) and attach through loop
// devices are skipped on other systems, saying why; `.github/workflows/windows.yml` runs this suite on Windows.
export function describeLinux(title: string, reason: string, fn: (this: Mocha.Suite) => void): void {
  if (process.platform === 'linux') describe(title, fn);
  else describe.skip(`${title} [skipped on ${process.platform}: ${reason}]`, fn);
}
