// extensionTestsPath for the benchmarks that need a real VS Code extension host.
import { runIn } from '../../test/vscode/index';

export function run(): Promise<void> {
  return runIn(__dirname, '.bench.js');
}
