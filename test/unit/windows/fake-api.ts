// A recording stand-in for the koffi bindings (src/worker/windows/api.ts): every call is logged with its arguments,
// struct arguments are also encoded with the real koffi struct types (the bytes VirtDisk would read), and answers
// come from per-test overrides. Handles are real koffi pointers (koffi.alloc), so isInvalidHandle works on them.
import koffi from 'koffi';
import type { Api, Handle } from '../../../src/worker/windows/api';
import * as S from '../../../src/worker/windows/structs';
import { VirtDisk } from '../../../src/worker/windows/virtdisk';

export interface Call { fn: keyof Api; args: unknown[]; bytes?: Buffer; handle?: Handle }
type Answers = { [K in keyof Api]?: (...args: Parameters<Api[K]>) => ReturnType<Api[K]> };

/** The SID GetTokenInformation answers with: S-1-5-21-1-2-3-1001. */
export const USER_SID = 'S-1-5-21-1-2-3-1001';

const STRUCT_ARG: Partial<Record<keyof Api, [number, unknown]>> = {
  OpenVirtualDisk: [4, S.OPEN_VIRTUAL_DISK_PARAMETERS],
  AttachVirtualDisk: [4, S.ATTACH_VIRTUAL_DISK_PARAMETERS],
  CreateVirtualDisk: [6, S.CREATE_VIRTUAL_DISK_PARAMETERS],
  SetVirtualDiskInformation: [1, S.SET_VIRTUAL_DISK_INFO],
  MergeVirtualDisk: [2, S.MERGE_VIRTUAL_DISK_PARAMETERS],
  CompactVirtualDisk: [2, S.COMPACT_VIRTUAL_DISK_PARAMETERS],
  ResizeVirtualDisk: [2, S.RESIZE_VIRTUAL_DISK_PARAMETERS],
};

export function encode(type: unknown, value: unknown): Buffer {
  const t = type as Parameters<typeof koffi.sizeof>[0];
  const b = Buffer.alloc(koffi.sizeof(t));
  koffi.encode(b, 0, t, value);
  return b;
}

export class FakeApi {
  readonly calls: Call[] = [];
  lastError = 0;
  readonly api: Api;
  private readonly open = new Set<Handle>();

  constructor(private readonly answers: Answers = {}) {
    const newHandle = (): Handle => { const h = koffi.alloc('uint8_t', 1) as Handle; this.open.add(h); return h; };
    const defaults: Answers = {
      OpenVirtualDisk: (_t, _p, _m, _f, _params, out) => { out[0] = newHandle(); return 0; },
      CreateVirtualDisk: async (_t, _p, _m, _sd, _f, _pf, _params, _o, out) => { out[0] = newHandle(); return 0; },
      AttachVirtualDisk: () => 0,
      DetachVirtualDisk: () => 0,
      SetVirtualDiskInformation: () => 0,
      MergeVirtualDisk: async () => 0,
      CompactVirtualDisk: async () => 0,
      ResizeVirtualDisk: async () => 0,
      CloseHandle: (h) => { this.open.delete(h); return 1; },
      CreateFileW: () => newHandle(),
      GetLastError: () => this.lastError,
      FormatMessageW: () => 0,
      LoadLibraryExW: () => null,
      LocalFree: () => null,
      GetCurrentProcess: () => koffi.alloc('uint8_t', 1) as Handle,
      OpenProcessToken: (_p, _a, out) => { out[0] = newHandle(); return 1; },
      GetTokenInformation: (_t, _c, buf, size, needed) => {
        needed[0] = 48;
        if (!buf || size < 48) { this.lastError = 122; return 0; }
        buf.writeBigUInt64LE(koffi.address(buf) + 16n, 0); // TOKEN_USER.User.Sid -> the SID below, in the same buffer
        buf.writeUInt32LE(0, 8);
        Buffer.from([1, 5, 0, 0, 0, 0, 0, 5]).copy(buf, 16);
        [21, 1, 2, 3, 1001].forEach((v, i) => buf.writeUInt32LE(v, 24 + 4 * i));
        return 1;
      },
      ConvertStringSecurityDescriptorToSecurityDescriptorW: (sddl, _r, out) => { out[0] = { sddl }; return 1; },
      GetLogicalDrives: () => 0b100,
      IsUserAnAdmin: () => 1,
    };
    const api: Record<string, unknown> = {};
    for (const fn of new Set([...Object.keys(defaults), ...Object.keys(answers)]) as Set<keyof Api>) {
      api[fn] = (...args: unknown[]) => {
        const call: Call = { fn, args };
        const s = STRUCT_ARG[fn];
        if (s && args[s[0]]) call.bytes = encode(s[1], args[s[0]]);
        if (fn !== 'GetLastError') this.calls.push(call);
        const impl = (answers[fn] ?? defaults[fn]) as ((...a: unknown[]) => unknown) | undefined;
        const r = impl!(...args);
        if (fn === 'OpenVirtualDisk' || fn === 'CreateVirtualDisk') {
          call.handle = (args[fn === 'OpenVirtualDisk' ? 5 : 8] as [Handle | null])[0] ?? undefined;
        }
        return r;
      };
    }
    this.api = new Proxy(api, {
      get: (target, name: string) => target[name] ?? (() => { throw new Error(`fake api: ${name} was not expected`); }),
    }) as unknown as Api;
  }

  /** Calls of one function, in order. */
  of(fn: keyof Api): Call[] { return this.calls.filter((c) => c.fn === fn); }

  /** Names of the calls in order (GetLastError left out). */
  sequence(): string[] { return this.calls.map((c) => c.fn); }

  /** Handles opened and not closed. */
  get leaked(): number { return this.open.size; }

  virtDisk(logs: string[] = []): VirtDisk {
    return new VirtDisk((level, msg) => logs.push(`${level}: ${msg}`), this.api);
  }
}
