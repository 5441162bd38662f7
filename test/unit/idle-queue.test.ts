// The worker's queue of work no answer waits for (src/worker/idle.ts): in order, once, never in the request's own
// turn, pushed back by requests but never starved by them. Outcomes are events (a job ran), never durations.
import * as assert from 'assert';
import { IdleQueue } from '../../src/worker/idle';

const ran = (q: IdleQueue, log: string[], name: string) => new Promise<void>((resolve) => q.later(() => { log.push(name); resolve(); }));

describe('worker idle queue', () => {
  it('runs the jobs later, in order, once each; a job that throws does not stop the others', async () => {
    const q = new IdleQueue(1, 50);
    const log: string[] = [];
    q.later(() => { log.push('a'); });
    q.later(() => { throw new Error('job failed'); });
    const last = ran(q, log, 'c');
    assert.deepStrictEqual(log, [], 'nothing runs in the turn that queued it');
    await last;
    assert.deepStrictEqual(log, ['a', 'c']);
    assert.strictEqual(q.size, 0);
  });

  it('flush runs what waits at once, and the timer then has nothing left to run', async () => {
    const q = new IdleQueue(1, 50);
    const log: string[] = [];
    q.later(() => log.push('a'));
    q.flush();
    assert.deepStrictEqual(log, ['a']);
    await ran(q, log, 'b');
    assert.deepStrictEqual(log, ['a', 'b']);
  });

  it('a worker that never goes idle still runs the jobs (the maximum delay)', async () => {
    const q = new IdleQueue(60_000, 20); // idle would mean a minute without requests
    const log: string[] = [];
    const job = ran(q, log, 'a');
    let busy = true;
    const requests = (async () => { while (busy) { q.touch(); await new Promise((r) => setImmediate(r)); } })();
    await job;
    busy = false;
    await requests;
    assert.deepStrictEqual(log, ['a']);
  });
});
