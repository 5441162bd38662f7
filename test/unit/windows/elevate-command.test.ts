// "Retry as Administrator": what ShellExecuteExW "runas" is asked to start. Always this process's own executable
// (VS Code's through cmd.exe, which sets ELECTRON_RUN_AS_NODE) and the worker from the extension's folder.
import * as assert from 'assert';
import { ErrorCode } from '../../../src/common/protocol';
import { WorkerError } from '../../../src/worker/errors';
import { currentRuntime, elevationCommand } from '../../../src/worker/windows/elevate';

const CODE = 'C:\\Users\\Ann Lee\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe';
const WORKER = 'C:\\Users\\Ann Lee\\.vscode\\extensions\\vdisk.vdisk-0.1.0\\dist\\worker.js';
const launch = { workerPath: WORKER, pipe: '\\\\.\\pipe\\vdisk-elevated-0123abcd', secretFile: 'C:\\Users\\Ann Lee\\AppData\\Local\\Temp\\vdisk-elevate-0123abcd.secret' };

describe('Windows: the elevated worker\'s command line', () => {
  it('VS Code: cmd.exe from System32 sets ELECTRON_RUN_AS_NODE=1, then runs Code.exe itself on the extension\'s worker', () => {
    const c = elevationCommand(launch, { execPath: CODE, electron: true, systemRoot: 'C:\\WINDOWS' });
    assert.strictEqual(c.file, 'C:\\WINDOWS\\System32\\cmd.exe');
    assert.strictEqual(c.parameters, `/d /v:off /s /c "set "ELECTRON_RUN_AS_NODE=1" && "${CODE}" "${WORKER}" "--pipe" "${launch.pipe}" "--secret-file" "${launch.secretFile}""`);
    assert.strictEqual(c.directory, 'C:\\Users\\Ann Lee\\.vscode\\extensions\\vdisk.vdisk-0.1.0\\dist');
    assert.strictEqual(c.startsWorkerDirectly, false, 'the PID of cmd.exe is not the worker\'s');
    assert.ok(!/node\.exe/i.test(c.parameters), 'never a node.exe from PATH');
  });

  it('plain Node (CLI, tests): its own executable, arguments quoted for CommandLineToArgvW', () => {
    const c = elevationCommand(launch, { execPath: 'C:\\Program Files\\nodejs\\node.exe', electron: false, systemRoot: 'C:\\WINDOWS' });
    assert.strictEqual(c.file, 'C:\\Program Files\\nodejs\\node.exe');
    assert.strictEqual(c.parameters, `"${WORKER}" --pipe ${launch.pipe} --secret-file "${launch.secretFile}"`);
    assert.strictEqual(c.startsWorkerDirectly, true);
  });

  it('keeps cmd.exe metacharacters literal by quoting, doubles trailing backslashes, and refuses % and quotes', () => {
    const odd = { ...launch, workerPath: 'D:\\a&b ^c (x)\\dist\\worker.js' };
    const c = elevationCommand(odd, { execPath: 'D:\\VS Code\\', electron: true, systemRoot: 'C:\\Windows' });
    assert.ok(c.parameters.includes('"D:\\a&b ^c (x)\\dist\\worker.js"'), c.parameters);
    assert.ok(c.parameters.includes('"D:\\VS Code\\\\"'), c.parameters);
    for (const bad of ['C:\\Users\\100%\\Code.exe', 'C:\\x"y\\Code.exe']) {
      assert.throws(() => elevationCommand(launch, { execPath: bad, electron: true, systemRoot: 'C:\\Windows' }),
        (e: WorkerError) => e.code === ErrorCode.NotSupported && e.data.reason === 'elevation-unsafe-path');
    }
    assert.throws(() => elevationCommand(launch, { execPath: CODE, electron: true, systemRoot: undefined }),
      (e: WorkerError) => e.code === ErrorCode.MissingDependency);
  });

  it('the runtime is this process: its execPath, Electron or not, SystemRoot or windir', () => {
    const rt = currentRuntime({ windir: 'C:\\Windows', PATH: 'C:\\elsewhere' });
    assert.deepStrictEqual(rt, { execPath: process.execPath, electron: !!process.versions.electron, systemRoot: 'C:\\Windows' });
  });
});
