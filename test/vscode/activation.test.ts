// Runs first (files run in name order): nothing before it may have needed the worker.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { VdiskApi } from '../../src/extension';

describe('activation (extension host)', () => {
  it('activation starts no worker process', async () => {
    const ext = vscode.extensions.getExtension<VdiskApi>('vdisk.vdisk');
    assert.ok(ext, 'vdisk.vdisk is not installed');
    const a = await ext.activate();
    // the sidebar is closed in the test window, so nothing has needed the worker yet
    assert.notStrictEqual(a.client.state, 'running');
    assert.strictEqual(a.client.pid, undefined);
  });
});
