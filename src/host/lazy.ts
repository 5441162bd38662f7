// Stand-ins registered at activation for objects that live in the core bundle (dist/core.js), loaded on first use:
// VS Code gets a provider with exactly the target's methods and events; the first call loads the core.
import type * as vscode from 'vscode';

/**
 * An event that can be subscribed to before its source exists: listeners are kept and handed to the source's event
 * once `connect` is called with it.
 */
export class DeferredEvent<T> {
  private source: vscode.Event<T> | undefined;
  private readonly pending = new Set<{ listener: (e: T) => unknown; thisArgs?: unknown; sub?: vscode.Disposable }>();

  readonly event: vscode.Event<T> = (listener, thisArgs, disposables) => {
    const entry: { listener: (e: T) => unknown; thisArgs?: unknown; sub?: vscode.Disposable } = { listener, thisArgs };
    if (this.source) entry.sub = this.source(listener, thisArgs);
    else this.pending.add(entry);
    const d = { dispose: () => { this.pending.delete(entry); entry.sub?.dispose(); } };
    disposables?.push(d);
    return d;
  };

  connect(source: vscode.Event<T>): void {
    if (this.source) return;
    this.source = source;
    for (const e of this.pending) e.sub = source(e.listener, e.thisArgs);
    this.pending.clear();
  }
}

/**
 * An object with the named `methods` and `events` of the object `get()` returns; the first method call (or the
 * first `connect()`) calls `get`. Only the names given exist on it: VS Code looks at which methods a provider has
 * (getParent for reveal, resolveCustomEditor vs resolveCustomTextEditor).
 */
export function forwarder<T extends object>(get: () => T, methods: readonly (keyof T & string)[], events: readonly (keyof T & string)[] = []):
  T & { connect(): void } {
  const deferred = new Map(events.map((e) => [e, new DeferredEvent<unknown>()]));
  let target: T | undefined;
  const resolve = (): T => {
    if (!target) {
      target = get();
      for (const [name, d] of deferred) d.connect((target as Record<string, vscode.Event<unknown>>)[name]);
    }
    return target;
  };
  const out: Record<string, unknown> = { connect: () => void resolve() };
  for (const m of methods) out[m] = (...args: unknown[]) => (resolve() as Record<string, (...a: unknown[]) => unknown>)[m](...args);
  for (const [name, d] of deferred) out[name] = d.event;
  return out as T & { connect(): void };
}
