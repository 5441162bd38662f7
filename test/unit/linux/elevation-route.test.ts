// pkexec's exit 127 as the user reads it (src/host/elevation-launch.ts): the stderr texts are polkit 122's, as
// test/worker/linux-pkexec.test.ts got them from the real pkexec; each message names the way out.
import * as assert from 'assert';
import type { Capabilities } from '../../../src/common/protocol';
import { elevationRoute, pkexecRefusal } from '../../../src/host/elevation-launch';

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

describe('Retry as Root: which route vdisk.linux.elevation picks', () => {
  const caps = (pkexec: boolean, sudo: boolean, o: Partial<Capabilities> = {}): Capabilities => ({
    platform: 'linux', user: { uid: 1000, name: 'ann' }, privileged: false, elevated: false, unprivilegedRoute: null, kinds: [], mountTools: [], notes: [],
    elevation: [{ route: 'pkexec', available: pkexec, detail: 'pk' }, { route: 'sudo', available: sudo, detail: 'su' }], ...o,
  });
  it('"pkexec" takes pkexec even without an agent (a polkit rule may need no password); "sudo" takes sudo', () => {
    assert.deepStrictEqual(elevationRoute(caps(false, true), 'pkexec'), { route: 'pkexec' });
    assert.deepStrictEqual(elevationRoute(caps(true, true), 'sudo'), { route: 'sudo' });
  });
  it('"ask": pkexec when an agent answers, else sudo, else why neither', () => {
    assert.deepStrictEqual(elevationRoute(caps(true, true), 'ask'), { route: 'pkexec' });
    assert.deepStrictEqual(elevationRoute(caps(false, true), 'ask'), { route: 'sudo' });
    assert.deepStrictEqual(elevationRoute(caps(false, false), 'ask'), { refusal: 'vdisk cannot become root here: pkexec: pk; sudo: su.' });
  });
  it('"never", an elevated worker, Windows', () => {
    assert.match((elevationRoute(caps(true, true), 'never') as { refusal: string }).refusal, /turned off/);
    assert.match((elevationRoute(caps(true, true, { elevated: true }), 'pkexec') as { refusal: string }).refusal, /already runs elevated/);
    assert.deepStrictEqual(elevationRoute(caps(false, false, { platform: 'win32', elevation: [{ route: 'uac', available: true, detail: '' }] }), 'never'), { route: 'uac' });
  });
});
