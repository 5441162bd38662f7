// Entry point that VS Code loads in the extension host (extensionTestsPath): runs mocha 11 over every
// *.test.js beside it (recursively) and resolves/rejects run(). A rejection makes the host exit with code 1.
// The tally goes to $VDISK_HOST_RESULT_FILE, read by scripts/run-vscode-tests.js (code-server) or
// out/test/vscode/run-electron.js (@vscode/test-electron).
import * as fs from 'fs';
import * as path from 'path';
import Mocha = require('mocha');

export interface HostResult {
  passes: number;
  failures: number;
  pending: number;
  failed: { title: string; error: string }[];
}

function testFiles(dir: string, suffix: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => path.join(dir, f));
}

export function run(): Promise<void> {
  return runIn(__dirname, '.test.js');
}

/** Runs every `*<suffix>` under `dir` (bench/vscode uses it for benchmarks inside the host). */
export async function runIn(dir: string, suffix: string): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: Number(process.env.VDISK_TEST_TIMEOUT || 30000) });
  if (process.env.VDISK_TEST_GREP) mocha.grep(process.env.VDISK_TEST_GREP);
  const files = testFiles(dir, suffix);
  if (files.length === 0) throw new Error(`no *${suffix} under ${dir}: compile the tests (npx tsc -p .)`);
  for (const f of files) mocha.addFile(f);
  const result: HostResult = { passes: 0, failures: 0, pending: 0, failed: [] };
  const resultFile = process.env.VDISK_HOST_RESULT_FILE;
  await new Promise<void>((resolve, reject) => {
    const runner = mocha.run((failures) => {
      if (resultFile) fs.writeFileSync(resultFile, JSON.stringify(result, null, 2));
      if (failures) reject(new Error(`${failures} test(s) failed`));
      else resolve();
    });
    runner.on('pass', () => { result.passes++; });
    runner.on('pending', () => { result.pending++; });
    runner.on('fail', (test, err: Error) => {
      result.failures++;
      result.failed.push({ title: test.fullTitle(), error: String((err && err.stack) || err) });
    });
  });
}
