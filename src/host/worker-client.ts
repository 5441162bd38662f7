// Supervises the worker process (model: vscode-languageserver-node's client): starts it on first need,
// fails every pending request at once when it dies, restarts it on the next need within a crash budget,
// and shuts it down with a request followed by a kill after a timeout. No `vscode` here: the CLI uses it too.
import * as cp from 'child_process';
import { EventEmitter } from 'events';
import {
  CancellationToken, createMessageConnection, IPCMessageReader, IPCMessageWriter, MessageConnection,
  RequestType, RequestType0, ResponseError, StreamMessageReader, StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import * as P from '../common/protocol';

export type WorkerState = 'stopped' | 'starting' | 'running' | 'failed';

export interface Logger {
  trace(msg: string): void; debug(msg: string): void; info(msg: string): void; warn(msg: string): void; error(msg: string): void;
}

export interface WorkerClientOptions {
  workerPath: string;
  client: string;
  log: Logger;
  /** Settings sent at every worker start (read each time, so a restart picks up changes). */
  settings?: () => P.WorkerSettings;
  /** Ask the worker to report disks attached or detached by other tools. */
  watch?: boolean;
  /** Crashes tolerated within the window before automatic restarts stop. */
  restartBudget?: { crashes: number; windowMs: number };
  shutdownTimeoutMs?: number;
  /** Node IPC (default) or stdin/stdout. */
  transport?: 'ipc' | 'stdio';
  env?: NodeJS.ProcessEnv;
}

interface Running { proc: cp.ChildProcess; connection: MessageConnection; info: P.InitializeResult }

export class WorkerClient extends EventEmitter {
  private _state: WorkerState = 'stopped';
  private running: Running | undefined;
  private starting: Promise<Running> | undefined;
  private crashes: number[] = [];
  private readonly pending = new Set<(e: Error) => void>();
  private readonly budget: { crashes: number; windowMs: number };

  constructor(private readonly opts: WorkerClientOptions) {
    super();
    this.budget = opts.restartBudget ?? { crashes: 4, windowMs: 3 * 60_000 };
  }

  get state(): WorkerState { return this._state; }
  get info(): P.InitializeResult | undefined { return this.running?.info; }
  get pid(): number | undefined { return this.running?.proc.pid; }

  private setState(s: WorkerState): void {
    if (s === this._state) return;
    this._state = s;
    this.emit('state', s);
  }

  /** Starts the worker if needed; rejects when the crash budget is spent (call restart() to reset it). */
  start(): Promise<Running> {
    if (this.running) return Promise.resolve(this.running);
    if (this.starting) return this.starting;
    if (this._state === 'failed') {
      return Promise.reject(new ResponseError(P.ErrorCode.WorkerDied,
        `The vdisk worker crashed ${this.budget.crashes} times in ${Math.round(this.budget.windowMs / 60000)} minutes and was not restarted. Run "Restart Worker" to try again; the log has the details.`,
        { reason: 'restart-budget' }));
    }
    this.setState('starting');
    this.starting = this.spawn().then((r) => {
      this.running = r; this.starting = undefined; this.setState('running');
      return r;
    }, (e: unknown) => {
      this.starting = undefined; this.setState('stopped');
      throw e;
    });
    return this.starting;
  }

  private async spawn(): Promise<Running> {
    const stdio = this.opts.transport === 'stdio';
    const t0 = Date.now();
    const proc = cp.fork(this.opts.workerPath, stdio ? ['--stdio'] : [], {
      env: { ...process.env, ...this.opts.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: stdio ? ['pipe', 'pipe', 'pipe', 'ipc'] : ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
    });
    this.forwardStderr(proc);
    const connection = stdio
      ? createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!))
      : createMessageConnection(new IPCMessageReader(proc), new IPCMessageWriter(proc));
    connection.onNotification(P.DisksChanged, (p) => this.emit('disksChanged', p));
    connection.listen();
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code, signal) =>
      reject(new ResponseError(P.ErrorCode.WorkerDied, `The vdisk worker exited during start-up (${describeExit(code, signal)})`))));
    proc.once('exit', (code, signal) => this.onExit(proc, connection, code, signal));
    proc.once('error', (e) => this.opts.log.error(`worker process error: ${e.message}`));
    const info = await Promise.race([
      connection.sendRequest(P.Initialize, { protocolVersion: P.PROTOCOL_VERSION, client: this.opts.client, watch: this.opts.watch, settings: this.opts.settings?.() }),
      exited,
    ]);
    this.opts.log.info(`worker ${proc.pid} started in ${Date.now() - t0} ms (backend ${info.backend}${info.limitations.length ? `; ${info.limitations.join(' ')}` : ''})`);
    return { proc, connection, info };
  }

  private forwardStderr(proc: cp.ChildProcess): void {
    let buf = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        const m = /^\[(trace|debug|info|warn|error)\] (.*)$/.exec(line);
        if (m) this.opts.log[m[1] as keyof Logger](`[worker] ${m[2]}`);
        else if (line.trim()) this.opts.log.info(`[worker] ${line}`);
      }
    });
  }

  private onExit(proc: cp.ChildProcess, connection: MessageConnection, code: number | null, signal: NodeJS.Signals | null): void {
    const expected = (proc as { vdiskStopping?: boolean }).vdiskStopping === true;
    connection.dispose();
    if (this.running?.proc === proc) this.running = undefined;
    const err = new ResponseError(P.ErrorCode.WorkerDied,
      `The vdisk worker stopped unexpectedly (${describeExit(code, signal)}); the request was not completed. It restarts on the next action.`);
    for (const reject of [...this.pending]) reject(err);
    this.pending.clear();
    if (expected) { this.setState('stopped'); return; }
    this.opts.log.error(`worker ${proc.pid} died: ${describeExit(code, signal)}`);
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < this.budget.windowMs), now];
    this.setState(this.crashes.length >= this.budget.crashes ? 'failed' : 'stopped');
    this.emit('crash', { code, signal, restartable: this._state !== 'failed' });
  }

  request<R>(type: RequestType0<R, void>, token?: CancellationToken): Promise<R>;
  request<A, R>(type: RequestType<A, R, void>, params: A, token?: CancellationToken): Promise<R>;
  async request(type: RequestType<unknown, unknown, void> | RequestType0<unknown, void>, a?: unknown, b?: CancellationToken): Promise<unknown> {
    const zero = type.numberOfParams === 0;
    const token = (zero ? a : b) as CancellationToken | undefined;
    const { connection } = await this.start();
    return new Promise((resolve, reject) => {
      this.pending.add(reject);
      const p = zero
        ? connection.sendRequest(type as RequestType0<unknown, void>, token)
        : connection.sendRequest(type as RequestType<unknown, unknown, void>, a, token);
      p.then(resolve, reject).finally(() => this.pending.delete(reject));
    });
  }

  /** Asks the worker to shut down (releasing session disks); kills it if it has not exited in time. */
  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const r = this.running;
    if (!r) { if (this._state !== 'failed') this.setState('stopped'); return; }
    (r.proc as { vdiskStopping?: boolean }).vdiskStopping = true;
    const exited = new Promise<void>((resolve) => {
      if (r.proc.exitCode !== null || r.proc.signalCode !== null) resolve(); else r.proc.once('exit', () => resolve());
    });
    const timeout = this.opts.shutdownTimeoutMs ?? 3000;
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeout).unref());
    r.connection.sendRequest(P.Shutdown).catch(() => undefined);
    if ((await Promise.race([exited, timer])) === 'timeout') {
      this.opts.log.warn(`worker ${r.proc.pid} did not exit within ${timeout} ms; killing it`);
      r.proc.kill('SIGKILL');
      await exited;
    }
    this.running = undefined;
    this.setState('stopped');
  }

  /** Stops the worker, forgets past crashes and starts a fresh one. */
  async restart(): Promise<void> {
    await this.stop();
    this.crashes = [];
    this.setState('stopped');
    await this.start();
  }

  dispose(): Promise<void> { return this.stop(); }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
