// `vdisk-volume:` — a read-only view of a read-only mounted volume, so that VS Code opens its files read-only
// (editors say so) instead of letting the user type until auto-save fails with EROFS. The path is the mount path.
import * as fs from 'fs';
import * as vscode from 'vscode';

export const VOLUME_SCHEME = 'vdisk-volume';

export function volumeUri(mountPoint: string): vscode.Uri {
  return vscode.Uri.from({ scheme: VOLUME_SCHEME, path: vscode.Uri.file(mountPoint).path });
}

function typeOf(s: fs.Stats): vscode.FileType {
  return (s.isDirectory() ? vscode.FileType.Directory : s.isFile() ? vscode.FileType.File : vscode.FileType.Unknown)
    | (s.isSymbolicLink() ? vscode.FileType.SymbolicLink : 0);
}

function wrap<T>(uri: vscode.Uri, fn: () => Promise<T>): Promise<T> {
  return fn().catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') throw vscode.FileSystemError.FileNotFound(uri);
    if (e.code === 'EACCES' || e.code === 'EPERM') throw vscode.FileSystemError.NoPermissions(uri);
    throw e;
  });
}

export class ReadOnlyVolumeFs implements vscode.FileSystemProvider {
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;

  watch(): vscode.Disposable { return new vscode.Disposable(() => undefined); }   // a read-only mount does not change

  stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    return wrap(uri, async () => {
      const s = await fs.promises.stat(uri.fsPath);
      const l = await fs.promises.lstat(uri.fsPath);
      return { type: typeOf(s) | (l.isSymbolicLink() ? vscode.FileType.SymbolicLink : 0), ctime: s.ctimeMs, mtime: s.mtimeMs, size: s.size,
        permissions: vscode.FilePermission.Readonly };
    });
  }

  readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    return wrap(uri, async () => (await fs.promises.readdir(uri.fsPath, { withFileTypes: true })).map((d) =>
      [d.name, d.isDirectory() ? vscode.FileType.Directory : d.isSymbolicLink() ? vscode.FileType.SymbolicLink : d.isFile() ? vscode.FileType.File : vscode.FileType.Unknown]));
  }

  readFile(uri: vscode.Uri): Promise<Uint8Array> { return wrap(uri, () => fs.promises.readFile(uri.fsPath)); }

  createDirectory(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }
  writeFile(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }
  delete(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }
  rename(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }
}

export function registerVolumeFs(): vscode.Disposable {
  return vscode.workspace.registerFileSystemProvider(VOLUME_SCHEME, new ReadOnlyVolumeFs(), {
    isCaseSensitive: process.platform === 'linux',
    isReadonly: new vscode.MarkdownString('This volume is mounted read-only: attach the disk read-write to change its files.'),
  });
}
