// Bundles the three entry points. koffi stays external (it loads a per-platform native
// binary through literal requires) and is only ever required by the worker bundle.
'use strict';
const esbuild = require('esbuild');

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
};

const builds = [
  { entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { entryPoints: ['src/worker/main.ts'], outfile: 'dist/worker.js', external: ['koffi'] },
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', external: ['koffi'], banner: { js: '#!/usr/bin/env node' } },
  // 7-Zip (WebAssembly) runs in worker_threads of the worker; its .wasm is copied next to the bundles
  { entryPoints: ['src/worker/browse/sevenzip-thread.ts'], outfile: 'dist/sevenzip-thread.js' },
];

function copyWasm() {
  const fs = require('fs');
  fs.mkdirSync('dist', { recursive: true });
  fs.copyFileSync(require.resolve('7z-wasm/7zz.wasm'), 'dist/7zz.wasm');
}

async function main() {
  copyWasm();
  if (watch) {
    for (const b of builds) await (await esbuild.context({ ...common, ...b })).watch();
    return;
  }
  await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b })));
}

main().catch((e) => { console.error(e); process.exit(1); });
