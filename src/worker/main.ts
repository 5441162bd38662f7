// Worker entry point. All OS and FFI calls happen in this process, never in the extension host.
//   forked with IPC (the extension host)        node dist/worker.js
//   stdin/stdout                                  node dist/worker.js --stdio
//   TCP to a listening client (Wine, elevation)   node dist/worker.js --socket <port>
//   named pipe / unix socket                      node dist/worker.js --pipe <path>
//   elevated (Windows "Retry as Administrator")   node dist/worker.js --pipe <name> --secret-file <path>
//   elevated (Linux "Retry as Root", sudo/pkexec)  node dist/worker.js --pipe <socket> --secret-file <path> --elevated
import * as net from 'net';
import {
  createMessageConnection, IPCMessageReader, IPCMessageWriter, MessageReader, MessageWriter,
  SocketMessageReader, SocketMessageWriter, StreamMessageReader, StreamMessageWriter,
} from 'vscode-jsonrpc/node';
import type { LogLevel } from '../common/protocol';
import type { Backend } from './backend';
import { registerHandlers } from './server';
import { UnsupportedBackend } from './unsupported';
import { connectElevated } from './elevation';
import { setUserGuard } from './user-guard';
import { idle } from './idle';

function log(level: LogLevel, msg: string): void {
  process.stderr.write(`[${level}] ${msg.replace(/\n/g, '\n    ')}\n`);
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Transport {
  reader: MessageReader;
  writer: MessageWriter;
  onClose: (f: () => void) => void;
  /** Resolves once everything written so far has left the process (so a last reply is not lost on exit). */
  flush: () => Promise<void>;
  /** Called after the connection listens (an elevated socket is handed over paused). */
  started?: () => void;
}

async function transport(): Promise<Transport> {
  const port = argValue('--socket');
  const pipe = argValue('--pipe');
  const secretFile = argValue('--secret-file');
  if (port !== undefined || pipe !== undefined) {
    let socket: net.Socket;
    if (secretFile !== undefined && pipe !== undefined) socket = await connectElevated(pipe, secretFile, 15_000, elevatedPeerCheck());
    else {
      socket = pipe !== undefined ? net.connect(pipe) : net.connect(Number(port), '127.0.0.1');
      await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    }
    return {
      reader: new SocketMessageReader(socket), writer: new SocketMessageWriter(socket), onClose: (f) => socket.once('close', f),
      flush: () => new Promise((resolve) => { if (socket.destroyed) resolve(); else socket.end(resolve); }),
      started: () => socket.resume(),
    };
  }
  if (process.argv.includes('--stdio') || !process.send) {
    return {
      reader: new StreamMessageReader(process.stdin), writer: new StreamMessageWriter(process.stdout), onClose: (f) => process.stdin.once('end', f),
      flush: () => new Promise((resolve) => process.stdout.write('', () => resolve())),
    };
  }
  return {
    reader: new IPCMessageReader(process), writer: new IPCMessageWriter(process), onClose: (f) => process.once('disconnect', f),
    // an empty message through the channel resolves after every earlier one was written
    flush: () => new Promise((resolve) => { if (process.connected) process.send!({ jsonrpc: '2.0', method: '$/vdisk/bye' }, undefined, undefined, () => resolve()); else resolve(); }),
  };
}

/**
 * Linux, started through sudo or pkexec with --elevated: serve only the invoking user (SUDO_UID / PKEXEC_UID), whose
 * process must be the one listening on the socket (SO_PEERCRED).
 */
function elevatedPeerCheck(): ((s: net.Socket) => void) | undefined {
  if (process.platform !== 'linux' || !process.argv.includes('--elevated')) return undefined;
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { serveInvokingUser } = require('./linux/served-user') as typeof import('./linux/served-user');
  const { requirePeerUid } = require('./linux/peer') as typeof import('./linux/peer');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const { requireUserAccess, giveToUser } = require('./linux/served-user') as typeof import('./linux/served-user'); // eslint-disable-line @typescript-eslint/no-require-imports
  const user = serveInvokingUser();
  setUserGuard({ require: requireUserAccess, adopt: giveToUser });
  log('info', `elevated worker ${process.pid} serving ${user.name} (uid ${user.uid})`);
  return (s) => requirePeerUid(s, user.uid);
}

function createBackend(): Backend {
  if (process.platform === 'linux') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LinuxBackend } = require('./linux/backend') as typeof import('./linux/backend');
    return new LinuxBackend(log);
  }
  if (process.platform === 'win32') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createWindowsBackend } = require('./windows/backend') as typeof import('./windows/backend');
    return createWindowsBackend(log);
  }
  return new UnsupportedBackend(process.platform);
}

async function main(): Promise<void> {
  const { reader, writer, onClose, flush, started } = await transport();
  const connection = createMessageConnection(reader, writer);
  const backend = createBackend();
  let exiting = false;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    idle.flush(); // records, notifications and log lines still waiting (idle.ts)
    // closing the fds we hold releases every session-lifetime disk
    void backend.dispose().finally(() => {
      const timer = setTimeout(() => process.exit(code), 1000);
      void flush().finally(() => { clearTimeout(timer); process.exit(code); });
    });
  };
  registerHandlers({ connection, backend, log, onShutdown: () => exit(0) });
  onClose(() => exit(0));
  connection.onClose(() => exit(0));
  process.on('SIGTERM', () => exit(0));
  process.on('SIGINT', () => exit(0));
  process.on('uncaughtException', (e) => { log('error', `uncaught: ${e.stack ?? e}`); exit(1); });
  connection.listen();
  started?.();
  log('debug', `worker ${process.pid} listening (${process.platform}, node ${process.version})`);
}

main().catch((e) => { log('error', `worker failed to start: ${e?.stack ?? e}`); process.exit(1); });
