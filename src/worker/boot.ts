// The worker's entry (dist/worker.js, every way of starting it in main.ts): runs the worker bundle
// (dist/worker-main.js) through V8's code cache when the host names a folder for it (VDISK_CODE_CACHE, the extension's
// global storage). An elevated worker never reads one: it is started by the user's process, its cache would be theirs.
import path = require('path');
import { runWithCodeCache } from './code-cache';

const elevated = process.argv.includes('--secret-file') || process.argv.includes('--elevated');
const dir = elevated ? undefined : process.env.VDISK_CODE_CACHE || undefined;
const run = runWithCodeCache(path.join(__dirname, 'worker-main.js'), dir, module);
// by then the start and its first requests have compiled what a start needs, and the cache carries it
if (run.outcome === 'miss' || run.outcome === 'rejected') setTimeout(() => run.save(), 2000).unref();
