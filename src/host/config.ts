import * as vscode from 'vscode';
import type { Lifetime, WorkerSettings } from '../common/protocol';

/** Typed access to the `vdisk.*` settings declared in package.json. */
export const config = {
  lifetime(): Lifetime {
    return vscode.workspace.getConfiguration('vdisk').get<Lifetime>('lifetime') === 'permanent' ? 'permanent' : 'session';
  },
  mountAfterAttach(): boolean {
    return vscode.workspace.getConfiguration('vdisk').get<boolean>('mountAfterAttach') === true;
  },
  worker(): WorkerSettings {
    const c = vscode.workspace.getConfiguration('vdisk');
    return {
      qemuStorageDaemon: c.get<string>('paths.qemuStorageDaemon') || undefined,
      vhdimount: c.get<string>('paths.vhdimount') || undefined,
      mountRoot: c.get<string>('mountRoot') || undefined,
    };
  },
  /** True when a change touches a setting the worker uses. */
  affectsWorker(e: vscode.ConfigurationChangeEvent): boolean {
    return ['vdisk.paths', 'vdisk.mountRoot'].some((k) => e.affectsConfiguration(k));
  },
  /** vdisk.linux.elevation: how "Retry as Root" elevates on Linux. */
  linuxElevation(): 'ask' | 'pkexec' | 'sudo' | 'never' {
    const v = vscode.workspace.getConfiguration('vdisk').get<string>('linux.elevation');
    return v === 'pkexec' || v === 'sudo' || v === 'never' ? v : 'ask';
  },
  defaultReadOnly(): boolean {
    return vscode.workspace.getConfiguration('vdisk').get<string>('defaultAccess') !== 'readWrite';
  },
};
