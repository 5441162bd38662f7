import * as assert from 'assert';
import { PROBLEM_CODES } from '../../src/formats/problems';
import { PROBLEM_HELP } from '../../src/views/inspector/problem-help';

describe('problem help', () => {
  it('explains every problem code the format layer can report', () => {
    for (const code of Object.keys(PROBLEM_CODES)) {
      const help = PROBLEM_HELP[code];
      assert.ok(help && help.meaning && help.action, `no meaning/action for ${code} in src/views/inspector/problem-help.ts`);
    }
  });
});
