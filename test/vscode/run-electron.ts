// Runs the extension-host suite with @vscode/test-electron's runTests(), the standard desktop runner.
//   node out/test/vscode/run-electron.js                 desktop: downloads VS Code (stable) and runs the suite
//   VSCODE_EXECUTABLE=/path/to/code node out/test/vscode/run-electron.js   an installed VS Code build
//   node out/test/vscode/run-electron.js --code-server   here (no desktop VS Code, no download): runTests()
//                                                         launches scripts/code-shim.js, which runs code-server
// Build first: node esbuild.js && npx tsc -p .   Exit code 0 only when every test passed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';
import type { HostResult } from './index';

function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'vdisk') return dir;
  }
  throw new Error(`no vdisk package.json above ${__dirname}`);
}

async function main(): Promise<number> {
  const root = repoRoot();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vdisk-electron-'));
  const workspace = path.join(tmp, 'workspace');
  const resultFile = path.join(tmp, 'host-result.json');
  try {
    try {
      const { makeSampleImages } = require(path.join(root, 'scripts/make-sample-images.js')) as { makeSampleImages(dir: string): Record<string, string> };
      makeSampleImages(workspace);
    } catch (e) {
      // mkfs.ext4/qemu-img/xorriso are Linux tools; elsewhere the suite runs on an empty workspace
      fs.mkdirSync(workspace, { recursive: true });
      console.warn(`sample images not generated (${(e as Error).message}); the workspace is empty`);
    }
    const useShim = process.argv.includes('--code-server');
    let failed = false;
    try {
      await runTests({
        extensionDevelopmentPath: root,
        extensionTestsPath: path.join(root, 'out/test/vscode/index.js'),
        launchArgs: [workspace, '--disable-extensions'],
        extensionTestsEnv: { VDISK_HOST_RESULT_FILE: resultFile },
        vscodeExecutablePath: useShim ? path.join(root, 'scripts/code-shim.js') : process.env.VSCODE_EXECUTABLE,
      });
    } catch (e) {
      failed = true;
      console.error(`runTests: ${(e as Error).message}`);
    }
    const r: HostResult = fs.existsSync(resultFile)
      ? JSON.parse(fs.readFileSync(resultFile, 'utf8'))
      : { passes: 0, failures: 1, pending: 0, failed: [{ title: 'extension host', error: 'no result file: the suite never ran' }] };
    if (failed && r.failures === 0) r.failures = 1;
    if (process.env.VDISK_RESULT_FILE) fs.writeFileSync(process.env.VDISK_RESULT_FILE, JSON.stringify({ passes: r.passes, failures: r.failures, pending: r.pending }));
    console.log(`test-electron: ${r.passes} passed, ${r.failures} failed, ${r.pending} pending`);
    return r.failures ? 1 : 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
