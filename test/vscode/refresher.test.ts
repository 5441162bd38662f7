// The one owner of refreshes (src/views/refresher.ts) inside a real VS Code extension host: bursts coalesce, a hidden
// view is only marked stale, the worker's events arrive with their reasons.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { AttachedDisk } from '../../src/common/protocol';
import { api } from './host';
import { describeLinux } from './platform';

// the same suite title as commands.test.ts: these tests were part of it and keep their full names
describeLinux('commands and tree (extension host)', 'its images are made with truncate, mkfs.ext4 and xorriso and attach as loop devices (Linux only); windows.test.ts covers Windows', function () {
  this.timeout(60_000);

  before(async () => { await api(); });

  it('refreshes once for a burst of changes, and only marks a hidden view stale', async () => {
    const { Refresher } = await import('../../src/views/refresher');
    let visible = false;
    let reloads = 0;
    const shown = new vscode.EventEmitter<void>();
    // a hand-stepped debounce timer: what is pending is inspected and fired by the test, no sleeping
    const pending = new Map<NodeJS.Timeout, () => void>();
    let n = 0;
    const timers = {
      set: (fn: () => void, ms: number) => { assert.strictEqual(ms, 30); const t = n++ as unknown as NodeJS.Timeout; pending.set(t, fn); return t; },
      clear: (t: NodeJS.Timeout | undefined) => { if (t !== undefined) pending.delete(t); },
    };
    const fire = async () => { const fns = [...pending.values()]; pending.clear(); for (const f of fns) f(); await r.now(); };
    const r = new Refresher(async () => { reloads++; }, () => visible, shown.event, 30, timers);
    try {
      r.request(); r.request();
      assert.strictEqual(pending.size, 0, 'hidden: nothing scheduled');
      assert.strictEqual(reloads, 0, 'hidden: no reload');
      visible = true; shown.fire();
      assert.strictEqual(pending.size, 1, 'shown again: one reload scheduled for the stale state');
      const f = [...pending.values()][0]; pending.clear(); f();
      await r.now(); // joins the reload the timer started, then reloads once more
      assert.strictEqual(reloads, 2);
      for (let i = 0; i < 10; i++) r.request();
      assert.strictEqual(pending.size, 1, 'a burst of requests: one pending reload');
      await fire();
      assert.strictEqual(reloads, 4, 'the burst reloaded once (plus the explicit now())');
      shown.fire();
      assert.strictEqual(pending.size, 0, 'shown while not stale: nothing to do');
    } finally { r.dispose(); shown.dispose(); }
  });

  it('the refresher takes the worker\'s events with their reasons, keeps the status bar current while hidden, and reloads for an interest', async () => {
    const { Refresher } = await import('../../src/views/refresher');
    const { EventEmitter } = await import('events');
    const events = new EventEmitter();
    let reloads = 0, lists = 0;
    const shown: AttachedDisk[][] = [];
    const one = { device: '/dev/loop9', image: '/x.img', readOnly: true, engine: 'loop', lifetime: 'session', ours: true } as AttachedDisk;
    // hand-stepped timers: what is pending is fired by the test, no sleeping
    const pending = new Map<NodeJS.Timeout, { fn: () => void; ms: number }>();
    let n = 0;
    const timers = {
      set: (fn: () => void, ms: number) => { const t = n++ as unknown as NodeJS.Timeout; pending.set(t, { fn, ms }); return t; },
      clear: (t: NodeJS.Timeout | undefined) => { if (t !== undefined) pending.delete(t); },
    };
    let listed: () => void = () => undefined;
    const fire = () => { const all = [...pending.values()]; pending.clear(); for (const p of all) p.fn(); };
    const r = new Refresher(async () => { reloads++; return { disks: [one] }; }, () => false, new vscode.EventEmitter<void>().event, 30, timers,
      { events, list: async () => { lists++; listed(); return [one]; }, status: { update: (d) => shown.push(d) } });
    try {
      events.emit('disksChanged', { reason: 'external' }); events.emit('disksChanged', { reason: 'attach' });
      assert.deepStrictEqual([...pending.values()].map((p) => p.ms), [30], 'a burst: one refresh pending');
      const statusShown = new Promise<void>((res) => { listed = res; });
      fire();
      await statusShown;
      await r.now('command').then(() => undefined); // reloads once; settles the listing above first
      assert.deepStrictEqual([lists, r.lastReason], [1, 'command']);
      assert.ok(shown.length >= 1, 'hidden: the status bar got the listing');
      const before = { reloads, lists };
      events.emit('crash', { restartable: true });
      fire();
      assert.deepStrictEqual([reloads, lists, r.lastReason], [before.reloads, before.lists, 'worker-crashed'], 'a crash does not start a worker for a hidden view');
      const interest = r.holdInterest();
      assert.strictEqual(reloads, before.reloads + 1, 'an interest reloads at once');
      await r.now('command');
      events.emit('disksChanged', { reason: 'detach' });
      const reloaded = reloads;
      fire();
      assert.deepStrictEqual([reloads, r.lastReason], [reloaded + 1, 'detach'], 'while held, a change reloads even with the tree hidden');
      interest.dispose();
      let fired = 0;
      for (let i = 0; i < 5; i++) r.filesChanged('a', () => fired++);
      r.filesChanged('b', () => fired++);
      assert.deepStrictEqual([...pending.values()].map((p) => p.ms), [250, 250], 'one pending file refresh per owner');
      fire();
      assert.strictEqual(fired, 2);
    } finally { r.dispose(); }
  });
});
