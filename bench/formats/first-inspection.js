// CPU (process.cpuUsage, all threads) and wall time of the first three inspections a process makes of 16-deep VHDX
// chains it never saw (the format code loaded, nothing run yet): run it alternately on two builds' out/ folders.
//   node bench/formats/first-inspection.js <out folder> <folder holding chains a/, b/, c/ (c16.vhdx the tip of each)>
'use strict';
const path = require('path');
const OUT = path.resolve(process.argv[2]);
const dir = path.resolve(process.argv[3]);
const { ChainCache } = require(path.join(OUT, 'src/worker/chain-cache.js'));
(async () => {
  const cache = new ChainCache();
  const res = [];
  for (const n of ['a', 'b', 'c']) {
    const u = process.cpuUsage(); const t = performance.now();
    const inf = await cache.inspect(path.join(dir, n, 'c16.vhdx'));
    const d = process.cpuUsage(u); res.push(`${((d.user + d.system) / 1000).toFixed(1)}/${(performance.now() - t).toFixed(1)}`);
    if (inf.chain.length !== 17 || inf.problems.length) throw new Error(`chain ${n} broken`);
  }
  console.log(`CPU/wall ms of inspections 1, 2, 3: ${res.join('  ')}`);
})();
