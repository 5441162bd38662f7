import * as vscode from 'vscode';
import type { Lifetime } from '../common/protocol';

/** Typed access to the `vdisk.*` settings declared in package.json. */
export const config = {
  lifetime(): Lifetime {
    return vscode.workspace.getConfiguration('vdisk').get<Lifetime>('lifetime') === 'permanent' ? 'permanent' : 'session';
  },
  defaultReadOnly(): boolean {
    return vscode.workspace.getConfiguration('vdisk').get<string>('defaultAccess') !== 'readWrite';
  },
};
