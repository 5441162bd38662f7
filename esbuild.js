// Bundles the entry points. koffi stays external (it loads a per-platform native binary through literal requires)
// and is only ever required by the worker bundle. The inspector's webview script is a browser bundle, type-checked
// here against src/views/inspector/messages.ts with the DOM library (the root tsconfig has no DOM).
'use strict';
const path = require('path');
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

// `import * as fs from 'fs'` bundles as a per-module copy of the built-in's exports (esbuild's __toESM: ~140 copies
// of fs/path/... at the worker's start); `import fs = require('fs')` is a plain require. Same module object, same
// types (tsc checks the source as written): the worker-side bundles are built with this rewrite.
const builtins = new Set([...require('module').builtinModules, 'koffi']);
const requireBuiltins = {
  name: 'require-builtins',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const src = await require('fs').promises.readFile(args.path, 'utf8');
      const contents = src.replace(/^import (?:\* as )?(\w+) from '([^']+)';/gm,
        (m, name, spec) => (builtins.has(spec.replace(/^node:/, '')) ? `import ${name} = require('${spec}');` : m));
      return { contents, loader: 'ts' };
    });
  },
};

const builds = [
  // activation loads only the first; the second (worker client, JSON-RPC, views, command bodies) on first use
  { entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { entryPoints: ['src/core.ts'], outfile: 'dist/core.js', external: ['vscode'] },
  // the worker's entry runs its body through V8's code cache (src/worker/boot.ts)
  { entryPoints: ['src/worker/boot.ts'], outfile: 'dist/worker.js', plugins: [requireBuiltins] },
  { entryPoints: ['src/worker/main.ts'], outfile: 'dist/worker-main.js', external: ['koffi'], plugins: [requireBuiltins] },
  { entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js', external: ['koffi'], plugins: [requireBuiltins], banner: { js: '#!/usr/bin/env node' } },
  // inlined into the page with a nonce (src/views/inspector/html.ts): no source map comment
  { entryPoints: ['src/views/inspector/webview/main.ts'], outfile: 'dist/inspector.js', platform: 'browser', format: 'iife', target: 'es2022', sourcemap: false },
  // 7-Zip (WebAssembly) runs in worker_threads of the worker; its .wasm is copied next to the bundles
  { entryPoints: ['src/worker/browse/sevenzip-thread.ts'], outfile: 'dist/sevenzip-thread.js', plugins: [requireBuiltins] },
  // vdisk's own FUSE server (its own process, started by the Linux worker's vdisk-fuse engine)
  { entryPoints: ['src/worker/linux/fuse/server-main.ts'], outfile: 'dist/fuse-server.js', external: ['koffi'] },
];

function typecheckWebview() {
  const ts = require('typescript');
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } };
  const cfg = ts.getParsedCommandLineOfConfigFile(path.join(__dirname, 'src/views/inspector/webview/tsconfig.json'), {}, host);
  const diags = [...cfg.errors, ...ts.getPreEmitDiagnostics(ts.createProgram(cfg.fileNames, cfg.options))];
  if (diags.length) {
    const fmt = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => __dirname, getNewLine: () => '\n' };
    throw new Error(`the inspector webview does not type-check:\n${ts.formatDiagnostics(diags, fmt)}`);
  }
}

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
  typecheckWebview();
  await Promise.all(builds.map((b) => esbuild.build({ ...common, ...b })));
}

main().catch((e) => { console.error(e); process.exit(1); });
