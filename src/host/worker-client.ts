// Supervises the worker (model: vscode-languageserver-node's client, whose ErrorHandler/CloseHandler is our
// restart-policy.ts): starts it on first need, fails every pending request at once when it dies, restarts it on the
// next need within a crash budget, hands over to an elevated worker, and shuts it down with a request followed by a
// kill after a timeout. How a worker is reached: worker-transport.ts; handshake and requests: worker-connection.ts.
// No `vscode` here: the CLI uses it too.
import { EventEmitter } from 'events';
import * as net from 'net';
import { CancellationToken, RequestType, RequestType0, ResponseError } from 'vscode-jsonrpc/node';
import * as P from '../common/protocol';
import { acceptElevatedWorker } from './elevation';
import { CloseAction, CrashBudget, RestartPolicy } from './restart-policy';
import { ElevationLauncher, openElevationSession, uacLauncher } from './elevation-launch';
import { openConnection, PendingRequests, Running } from './worker-connection';
import { forkWorker, Logger, socketTransport, WorkerTransport } from './worker-transport';

export type { Logger } from './worker-transport';

export type WorkerState = 'stopped' | 'starting' | 'running' | 'failed';

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
  private readonly pending = new PendingRequests();
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
    const t0 = Date.now();
    const t = forkWorker(this.opts);
    const r = await this.connect(t);
    t.onGone((how) => this.onExit(r, how));
    this.opts.log.info(`worker ${r.pid} started in ${Date.now() - t0} ms (backend ${r.info.backend}${r.info.limitations.length ? `; ${r.info.limitations.join(' ')}` : ''})`);
    return r;
  }

  private connect(t: WorkerTransport): Promise<Running> {
    return openConnection(t,
      { protocolVersion: P.PROTOCOL_VERSION, client: this.opts.client, watch: this.opts.watch, settings: this.opts.settings?.() },
      {
        disksChanged: (p) => this.emit('disksChanged', p),
        progress: (p) => this.emit('progress', p),
        browseProgress: (p) => this.emit('browseProgress', p),
      });
  }

  private onExit(r: Running, how: string): void {
    if (r.gone) return;
    r.gone = true;
    r.connection.dispose();
    if (this.running === r) this.running = undefined;
    const err = new ResponseError(P.ErrorCode.WorkerDied,
      `The vdisk worker stopped unexpectedly (${how}); the request was not completed. It restarts on the next action.`);
    this.pending.failAll(err);
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
    const { connection } = await this.start();
    return this.pending.send(connection, type, a, b);
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
      const t = socketTransport(socket);
      await this.stop();
      const starting = this.begin(this.connect(t));
      socket.resume(); // handed over paused so that no byte after the handshake is lost; the reader is listening now
      const r = await starting;
      t.onGone((how) => this.onExit(r, how));
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
