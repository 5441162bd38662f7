// Mocha reporter: the usual spec output, plus a JSON tally written to $VDISK_RESULT_FILE so that
// scripts/test-all.js can print one "N passed, N failed" line over every suite.
'use strict';
const fs = require('fs');
const Mocha = require('mocha');

class CountingSpec extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const tally = { passes: 0, failures: 0, pending: 0, failed: [] };
    runner.on('pass', () => tally.passes++);
    runner.on('pending', () => tally.pending++);
    runner.on('fail', (test, err) => { tally.failures++; tally.failed.push(`${test.fullTitle()}: ${err && err.message}`); });
    runner.once('end', () => {
      const file = process.env.VDISK_RESULT_FILE;
      if (file) fs.writeFileSync(file, JSON.stringify(tally));
    });
  }
}
module.exports = CountingSpec;
