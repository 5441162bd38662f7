// The read-only `vdisk-image:` file system: the files inside a disk image, served by the worker's vdisk/browse/*
// requests (7-Zip in WebAssembly over the block layer). Browsing attaches nothing and changes nothing, which is
// why it also works in Restricted Mode. URI: vdisk-image://<hex of the image's path>/<path inside the image>.
import * as path from 'path';
import * as vscode from 'vscode';
import { ResponseError } from 'vscode-jsonrpc';
import * as P from '../common/protocol';
import type { WorkerClient } from '../host/worker-client';

import { IMAGE_SCHEME, READONLY_MESSAGE } from './names';

export { IMAGE_SCHEME, READONLY_MESSAGE };

export function imageUri(image: string, inner = '/'): vscode.Uri {
  return vscode.Uri.from({ scheme: IMAGE_SCHEME, authority: Buffer.from(image, 'utf8').toString('hex'), path: inner.startsWith('/') ? inner : `/${inner}` });
}

export function parseImageUri(uri: vscode.Uri): { image: string; inner: string } {
  if (uri.scheme !== IMAGE_SCHEME || !/^([0-9a-f]{2})+$/i.test(uri.authority)) throw vscode.FileSystemError.FileNotFound(uri);
  return { image: Buffer.from(uri.authority, 'hex').toString('utf8'), inner: uri.path || '/' };
}

/** The folder name Browse gives an image in the Explorer. */
/** The images whose files are open as workspace folders of this window. */
export function browsedImages(folders: readonly vscode.WorkspaceFolder[]): string[] {
  return folders.filter((f) => f.uri.scheme === IMAGE_SCHEME && /^([0-9a-f]{2})+$/i.test(f.uri.authority))
    .map((f) => parseImageUri(f.uri).image);
}

export function browseFolderName(image: string): string { return `${path.basename(image)} (read-only)`; }

export class ImageFileSystem implements vscode.FileSystemProvider {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;

  /** Folders whose skipped damaged entries were already shown to the user. */
  private readonly warned = new Set<string>();

  constructor(private readonly client: WorkerClient) {}

  /** Nothing to watch: what the image holds changes only when the image file does, and then every listing reloads. */
  watch(): vscode.Disposable { return new vscode.Disposable(() => undefined); }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const e = await this.call(uri, () => this.client.request(P.BrowseStat, params(uri)));
    if (e.problems?.length && !this.warned.has(uri.toString())) {
      this.warned.add(uri.toString());
      void vscode.window.showWarningMessage(`${e.name || e.path}: ${e.problems.length} damaged entr${e.problems.length === 1 ? 'y is' : 'ies are'} not shown: ${e.problems.slice(0, 3).join('; ')}`);
    }
    return { type: fileType(e), size: e.size, mtime: e.mtime, ctime: e.mtime, permissions: vscode.FilePermission.Readonly };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const list = await this.call(uri, () => this.client.request(P.BrowseList, params(uri)));
    return list.map((e) => [e.name, fileType(e)]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const st = await this.call(uri, () => this.client.request(P.BrowseStat, params(uri)));
    if (st.type === 'directory' || st.targetType === 'directory') throw vscode.FileSystemError.FileIsADirectory(uri);
    if (st.size > P.BROWSE_READFILE_LIMIT) {
      throw vscode.FileSystemError.Unavailable(`${st.name} is ${mib(st.size)} MiB: files over ${mib(P.BROWSE_READFILE_LIMIT)} MiB are not opened from a disk image. Right-click it in the Explorer and choose "Extract..." to copy it out.`);
    }
    const chunks: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const r = await this.call(uri, () => this.client.request(P.BrowseRead, { ...params(uri), offset, length: P.BROWSE_READ_CHUNK }));
      const b = Buffer.from(r.data, 'base64');
      chunks.push(b);
      offset += b.length;
      if (r.eof || !b.length) break;
    }
    return Buffer.concat(chunks);
  }

  writeFile(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }
  createDirectory(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }
  delete(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }
  rename(uri: vscode.Uri): never { throw vscode.FileSystemError.NoPermissions(uri); }

  private async call<T>(uri: vscode.Uri, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ResponseError && e.code === P.ErrorCode.NotFound) {
        const data = e.data as P.ErrorData | undefined;
        throw data?.reason === 'not-in-image' ? vscode.FileSystemError.FileNotFound(uri) : vscode.FileSystemError.FileNotFound(e.message);
      }
      if (e instanceof ResponseError && e.code === P.ErrorCode.PermissionDenied) throw vscode.FileSystemError.NoPermissions(e.message);
      throw vscode.FileSystemError.Unavailable((e as Error).message);
    }
  }
}

function params(uri: vscode.Uri): P.BrowsePathParams {
  const { image, inner } = parseImageUri(uri);
  return { image, path: inner };
}

function fileType(e: P.BrowseEntry): vscode.FileType {
  if (e.type === 'directory') return vscode.FileType.Directory;
  if (e.type === 'file') return vscode.FileType.File;
  return vscode.FileType.SymbolicLink | (e.targetType === 'directory' ? vscode.FileType.Directory : e.targetType === 'file' ? vscode.FileType.File : 0);
}

function mib(n: number): string { return (n / (1024 * 1024)).toFixed(n % (1024 * 1024) ? 1 : 0); }

export function registerImageFileSystem(client: WorkerClient): vscode.Disposable {
  return vscode.workspace.registerFileSystemProvider(IMAGE_SCHEME, new ImageFileSystem(client), { isCaseSensitive: true, isReadonly: READONLY_MESSAGE });
}
