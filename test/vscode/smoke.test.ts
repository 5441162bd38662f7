// The packaged identity of the extension as VS Code sees it: present, activates, and every command its
// manifest contributes is really registered (a declared-but-unregistered command fails here).
import * as assert from 'assert';
import * as vscode from 'vscode';

const EXTENSION_ID = 'vdisk.vdisk';

interface ContributedCommand { command: string; title: string; category?: string }

describe('vdisk extension smoke', () => {
  let ext: vscode.Extension<unknown> | undefined;

  before(() => { ext = vscode.extensions.getExtension(EXTENSION_ID); });

  it(`is installed as ${EXTENSION_ID}`, () => {
    assert.ok(ext, `extension ${EXTENSION_ID} not found among ${vscode.extensions.all.map((e) => e.id).filter((id) => !id.startsWith('vscode.')).join(', ')}`);
  });

  it('activates without error', async () => {
    assert.ok(ext);
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });

  it('registers every command its manifest contributes', async () => {
    assert.ok(ext);
    await ext.activate();
    const declared = ((ext.packageJSON.contributes?.commands ?? []) as ContributedCommand[]).map((c) => c.command);
    assert.ok(declared.length > 0, 'the manifest contributes no commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = declared.filter((c) => !registered.has(c));
    assert.deepStrictEqual(missing, [], `declared in package.json but not registered: ${missing.join(', ')}`);
  });
});
