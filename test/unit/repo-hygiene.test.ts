// What must never be committed: pictures of failed UI runs (the harness writes them outside the repository).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '../../..');

describe('repository hygiene', () => {
  it('test/ui/screenshots holds no failure screenshots', () => {
    const dir = path.join(ROOT, 'test/ui/screenshots');
    const names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
    assert.deepStrictEqual(names.filter((n) => /fail/i.test(n)), []);
  });

  it('the UI harness writes failure screenshots outside the repository', () => {
    const harness = fs.readFileSync(path.join(ROOT, 'test/ui/harness.ts'), 'utf8');
    assert.match(harness, /FAILURE_SHOTS = process\.env\.VDISK_UI_FAILURE_SHOTS \|\| path\.join\(os\.tmpdir\(\)/);
    assert.doesNotMatch(harness, /shot\(page, '99-after-failure'\)/);
  });
});
