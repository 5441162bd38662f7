// Wine ships some Windows functions as stubs that abort the whole process when called ("Call from ... to
// unimplemented function virtdisk.dll.GetAllAttachedVirtualDiskPhysicalPaths, aborting"): no return code, no
// exception a caller can catch. winebuild makes each such export a few bytes that load the DLL's and the function's
// names and call __wine_spec_unimplemented_stub; x64: sub rsp,28h; lea rcx,[rip+d1]; lea rdx,[rip+d2]; call.
// That shape with the function's own name as the second argument is recognised before any call, so the bindings
// (api.ts) answer ERROR_CALL_NOT_IMPLEMENTED for it instead of letting one request take the worker down.
import koffi from 'koffi';

const SHAPE: (number | null)[] = [0x48, 0x83, 0xec, 0x28, 0x48, 0x8d, 0x0d, null, null, null, null, 0x48, 0x8d, 0x15, null, null, null, null, 0xe8];

/** Whether the code at `fn` is Wine's unimplemented-function stub for `name`. */
export function isWineStub(fn: unknown, name: string): boolean {
  if (!fn) return false;
  const code = Buffer.from(koffi.decode(fn, `uint8_t[${SHAPE.length}]`) as Uint8Array);
  if (!SHAPE.every((b, i) => b === null || code[i] === b)) return false;
  // the second lea's target, relative to the end of that instruction (byte 18)
  return koffi.decode(fn, 18 + code.readInt32LE(14), 'char', -1) === name;
}

/** The functions of `dll` (already loaded) that are Wine stubs; always empty on Windows itself. */
export function wineStubs(dll: string, names: readonly string[]): string[] {
  const k32 = koffi.load('kernel32.dll');
  const getModule = k32.func('void * __stdcall GetModuleHandleW(const char16_t *name)');
  const getProc = k32.func('void * __stdcall GetProcAddress(void *module, const char *name)');
  const module = getModule(dll);
  if (!module) return [];
  return names.filter((n) => isWineStub(getProc(module, n), n));
}
