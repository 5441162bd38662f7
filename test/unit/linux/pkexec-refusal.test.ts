// pkexec's exit 127 as the user reads it (src/host/elevation-launch.ts): the stderr texts are polkit 122's, as
// test/worker/linux-pkexec.test.ts got them from the real pkexec; each message names the way out.
import * as assert from 'assert';
import { pkexecRefusal } from '../../../src/host/elevation-launch';

describe('linux: pkexec refusals', () => {
  it('polkit said no', () => {
    const m = pkexecRefusal('Error executing command as another user: Not authorized\n\nThis incident has been reported.\n');
    assert.match(m, /^pkexec refused: polkit does not allow you .*Ask an administrator for a polkit rule, or set vdisk\.linux\.elevation to "sudo" .*Browse Instead\.$/);
  });

  it('no agent to ask for the password, and no terminal for the text agent', () => {
    const m = pkexecRefusal("Error creating textual authentication agent: Error opening current controlling terminal for the process (`/dev/tty'): No such device or address\n");
    assert.match(m, /^pkexec could not ask for your password: no polkit authentication agent runs in this session .*pkttyagent.*"sudo"/);
  });

  it('no polkit on the system bus', () => {
    const m = pkexecRefusal('Error getting authority: Error initializing authority: Could not connect: No such file or directory\n');
    assert.match(m, /^pkexec cannot reach polkit \(Error initializing authority: Could not connect: No such file or directory\): polkitd must run .*"sudo"/);
  });

  it('anything else keeps pkexec\'s last line and the ways out; worker log lines are not pkexec\'s words', () => {
    const m = pkexecRefusal('[info] worker starting\nSomething new went wrong\n');
    assert.strictEqual(m, 'pkexec refused: Something new went wrong. Set vdisk.linux.elevation to "sudo" (it asks for your password in a terminal), or Browse Instead.');
  });
});
