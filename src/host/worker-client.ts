// Supervises the worker process (model: vscode-languageserver-node's client): starts it on first need,
// fails every pending request at once when it dies, restarts it on the next need within a crash budget,
// and shuts it down with a request followed by a kill after a timeout. No `vscode` here: the CLI uses it too.
import * as cp from 'child_process';
import { EventEmitter } from 'events';
import * as net from 'net';
import {
  CancellationToken, createMessageConnection, IPCMessageReader, IPCMessageWriter, MessageConnection, MessageReader, MessageWriter,
  RequestType, RequestType0, ResponseError, SocketMessageReader, SocketMessageWriter, StreamMessageReader, StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import * as P from '../common/protocol';
import { acceptElevatedWorker } from './elevation';
import { CloseAction, CrashBudget, RestartPolicy } from './restart-policy';
import { ElevationLauncher, openElevationSession, uacLauncher } from './elevation-launch';

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
  /** Crashes tolerated within the window before automatic restarts stop (the default restart policy). */
  restartBudget?: { crashes: number; windowMs: number };
  /** What to do when the worker goes away; default: a CrashBudget from restartBudget (4 in 3 minutes). */
  restartPolicy?: RestartPolicy;
  shutdownTimeoutMs?: number;
  /** Node IPC (default) or stdin/stdout. */
  transport?: 'ipc' | 'stdio';
  env?: NodeJS.ProcessEnv;
}

/** A worker we talk to: our child process, or an elevated one that connected back over a pipe. */
interface Running {
  pid: number | undefined;
  connection: MessageConnection;
  info: P.InitializeResult;
  elevated: boolean;
  stopping: boolean;
  /** Resolves when the process (or, for an elevated worker, its connection) is gone. */
  exited: Promise<void>;
  kill(): void;
}

/** The client's events, typed: `client.on('crash', (e) => ...)` knows `e`. */
export interface WorkerEvents {
  state: [WorkerState];
  disksChanged: [P.DisksChangedParams];
  /** A long request's progress (vdisk/progress, for the request that named the token). */
  progress: [P.ProgressParams];
  /** An extract's progress (vdisk/browse/progress, for the request that named the progressId). */
  browseProgress: [P.BrowseProgressParams];
  /** The worker went away unexpectedly; `restartable` false means the restart policy said DoNotRestart. */
  crash: [{ how: string; restartable: boolean; elevated: boolean; message?: string }];
  /** A worker answered vdisk/initialize (a fresh start, a restart, or the switch to an elevated worker). */
  initialized: [P.InitializeResult & { elevated: boolean }];
}

export class WorkerClient extends EventEmitter {
  private _state: WorkerState = 'stopped';
  private running: Running | undefined;
  private starting: Promise<Running> | undefined;
  private failure: string | undefined;
  private readonly pending = new Set<(e: Error) => void>();
  private readonly policy: RestartPolicy;

  constructor(private readonly opts: WorkerClientOptions) {
    super();
    const b = opts.restartBudget ?? { crashes: 4, windowMs: 3 * 60_000 };
    this.policy = opts.restartPolicy ?? new CrashBudget(b.crashes, b.windowMs);
  }

  override on<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  override once<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }
  override off<K extends keyof WorkerEvents>(event: K, listener: (...args: WorkerEvents[K]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
  override emit<K extends keyof WorkerEvents>(event: K, ...args: WorkerEvents[K]): boolean {
    return super.emit(event, ...args);
  }

  get state(): WorkerState { return this._state; }
  get info(): P.InitializeResult | undefined { return this.running?.info; }
  get pid(): number | undefined { return this.running?.pid; }
  get elevated(): boolean { return this.running?.elevated === true; }

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
        this.failure ?? 'The vdisk worker stopped and was not restarted. Run "Restart Worker" to try again; the log has the details.', { reason: 'restart-budget' }));
    }
    return this.begin(this.spawn());
  }

  private begin(starting: Promise<Running>): Promise<Running> {
    this.setState('starting');
    this.starting = starting.then((r) => {
      this.running = r; this.starting = undefined; this.setState('running');
      this.emit('initialized', { ...r.info, elevated: r.elevated });
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
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.once('error', (e) => this.opts.log.error(`worker process error: ${e.message}`));
    const r = await this.connect(
      stdio ? new StreamMessageReader(proc.stdout!) : new IPCMessageReader(proc),
      stdio ? new StreamMessageWriter(proc.stdin!) : new IPCMessageWriter(proc),
      { pid: proc.pid, elevated: false, exited, kill: () => proc.kill('SIGKILL') },
      // 'close' (after stderr is drained, nothing else holds it during start-up): the worker's own reason is read
      new Promise<never>((_, reject) => proc.once('close', (code, signal) =>
        reject(new ResponseError(P.ErrorCode.WorkerDied,
          `The vdisk worker exited during start-up (${describeExit(code, signal)})${this.lastWorkerError ? `: ${this.lastWorkerError}` : ''}`)))));
    proc.once('exit', (code, signal) => this.onExit(r, describeExit(code, signal)));
    if (proc.exitCode !== null || proc.signalCode !== null) this.onExit(r, describeExit(proc.exitCode, proc.signalCode));
    this.opts.log.info(`worker ${proc.pid} started in ${Date.now() - t0} ms (backend ${r.info.backend}${r.info.limitations.length ? `; ${r.info.limitations.join(' ')}` : ''})`);
    return r;
  }

  /** Opens the JSON-RPC connection and performs the handshake. */
  private async connect(reader: MessageReader, writer: MessageWriter, proc: Pick<Running, 'pid' | 'elevated' | 'exited' | 'kill'>, died: Promise<never>): Promise<Running> {
    const connection = createMessageConnection(reader, writer);
    connection.onNotification(P.DisksChanged, (p) => this.emit('disksChanged', p));
    connection.onNotification(P.ProgressNotification, (p) => this.emit('progress', p));
    connection.onNotification(P.BrowseProgress, (p) => this.emit('browseProgress', p));
    connection.listen();
    died.catch(() => connection.dispose());
    const info = await Promise.race([
      connection.sendRequest(P.Initialize, { protocolVersion: P.PROTOCOL_VERSION, client: this.opts.client, watch: this.opts.watch, settings: this.opts.settings?.() }),
      died,
    ]);
    return { ...proc, connection, info, stopping: false, pid: proc.pid ?? info.pid };
  }

  /** The worker's last error line (start-up failures explain themselves there). */
  private lastWorkerError: string | undefined;

  private forwardStderr(proc: cp.ChildProcess): void {
    this.lastWorkerError = undefined;
    let buf = '';
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        const m = /^\[(trace|debug|info|warn|error)\] (.*)$/.exec(line);
        if (m) this.opts.log[m[1] as keyof Logger](`[worker] ${m[2]}`);
        if (m?.[1] === 'error') this.lastWorkerError = m[2].split('\n')[0];
        else if (line.trim()) this.opts.log.info(`[worker] ${line}`);
      }
    });
  }

  private onExit(r: Running, how: string): void {
    if ((r as { gone?: boolean }).gone) return;
    (r as { gone?: boolean }).gone = true;
    r.connection.dispose();
    if (this.running === r) this.running = undefined;
    const err = new ResponseError(P.ErrorCode.WorkerDied,
      `The vdisk worker stopped unexpectedly (${how}); the request was not completed. It restarts on the next action.`);
    for (const reject of [...this.pending]) reject(err);
    this.pending.clear();
    if (r.stopping) { this.setState('stopped'); return; }
    this.opts.log.error(`${r.elevated ? 'elevated ' : ''}worker ${r.pid} died: ${how}`);
    const decision = this.policy.closed({ how, elevated: r.elevated });
    const restartable = decision.action === CloseAction.Restart;
    this.failure = restartable ? undefined : decision.message;
    this.setState(restartable ? 'stopped' : 'failed');
    this.emit('crash', { how, restartable, elevated: r.elevated, message: decision.message });
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

  /**
   * "Retry as Administrator" / "Retry as Root": `launcher` starts an elevated worker (UAC through the current worker,
   * pkexec, sudo in a terminal); it connects back over a socket in a private folder with the per-session secret, and
   * from then on every request goes to it. When it goes away, the next request starts an unelevated worker again.
   */
  async elevate({ launcher = uacLauncher, timeoutMs = 120_000 }: { launcher?: ElevationLauncher; timeoutMs?: number } = {}): Promise<void> {
    if (this.elevated) return;
    const session = openElevationSession();
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(session.pipe, resolve); });
      const accepted = acceptElevatedWorker(server, session.secret, timeoutMs);
      accepted.catch(() => undefined);
      const launched = await launcher.launch({
        session, workerPath: this.opts.workerPath,
        request: (type, params) => this.request(type, params),
      });
      const socket = await (launched.failed ? Promise.race([accepted, launched.failed]) : accepted);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await this.stop();
      const starting = this.begin(this.connect(new SocketMessageReader(socket), new SocketMessageWriter(socket),
        { pid: undefined, elevated: true, exited: closed, kill: () => socket.destroy() },
        closed.then(() => { throw new ResponseError(P.ErrorCode.WorkerDied, 'The elevated worker closed its connection during start-up'); })));
      socket.resume(); // handed over paused so that no byte after the handshake is lost; the reader is listening now
      const r = await starting;
      void closed.then(() => this.onExit(r, 'the elevated worker closed its connection'));
      this.opts.log.info(`elevated worker ${r.pid} connected (${launcher.route})`);
    } finally {
      server.close();
      session.dispose(); // normally the elevated worker already took the secret
    }
  }

  /** Asks the worker to shut down (releasing session disks); kills it if it has not exited in time. */
  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const r = this.running;
    if (!r) { if (this._state !== 'failed') this.setState('stopped'); return; }
    r.stopping = true;
    const timeout = this.opts.shutdownTimeoutMs ?? 3000;
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeout).unref());
    r.connection.sendRequest(P.Shutdown).catch(() => undefined);
    if ((await Promise.race([r.exited, timer])) === 'timeout') {
      this.opts.log.warn(`worker ${r.pid} did not exit within ${timeout} ms; killing it`);
      r.kill();
      await r.exited;
    }
    this.onExit(r, 'stopped');
  }

  /** Stops the worker, forgets past crashes and starts a fresh one. */
  async restart(): Promise<void> {
    await this.stop();
    this.policy.reset();
    this.failure = undefined;
    this.setState('stopped');
    await this.start();
  }

  dispose(): Promise<void> { return this.stop(); }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}
