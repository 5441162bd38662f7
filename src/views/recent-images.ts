// "Recent Images": images attached, inspected or created from this workspace, with their chains; attach in one click.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { problemItem } from './problem-item';
import { Inspect } from '../common/protocol';
import type { ChainLink, ImageInfo, Problem } from '../common/image';
import type { WorkerClient } from '../host/worker-client';

const KEY = 'vdisk.recentImages';
/** Formats that can have a parent: only these have a chain to show. */
const CHAIN_EXTENSIONS = /\.(vhdx?|avhdx|qcow2|vmdk|vdi)$/i;

function stampOf(file: string): string {
  try { const s = fs.statSync(file); return `${s.size}:${s.mtimeMs}`; } catch { return 'gone'; }
}
const MAX = 20;

export type RecentNode =
  | { kind: 'recent'; id: string; path: string }
  | { kind: 'recentLink'; id: string; link: ChainLink; level: number; of: string }
  | { kind: 'recentProblem'; id: string; problem: Problem; of: string };

export class RecentImagesProvider implements vscode.TreeDataProvider<RecentNode> {
  private readonly changed = new vscode.EventEmitter<RecentNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly parents = new Map<string, RecentNode | undefined>();

  /** Each image's reading, kept while its file's mtime and size stay the same (the worker caches whole chains). */
  private readonly infos = new Map<string, { stamp: string; info: ImageInfo | null }>();

  constructor(private readonly state: vscode.Memento, private readonly client: WorkerClient) {}

  /** The image's reading (chain and problems), or null when it cannot be read. */
  async infoOf(file: string): Promise<ImageInfo | null> {
    const stamp = stampOf(file);
    const hit = this.infos.get(file);
    if (hit && hit.stamp === stamp) return hit.info;
    const info = stamp === 'gone' ? null : await this.client.request(Inspect, { path: file }).catch(() => null);
    this.infos.set(file, { stamp, info });
    return info;
  }

  /** Recent images that read through `image` (it is a parent or ancestor of theirs). */
  async childrenOf(image: string): Promise<string[]> {
    const out: string[] = [];
    for (const p of this.paths) {
      if (p === image || !CHAIN_EXTENSIONS.test(p)) continue;
      if ((await this.infoOf(p))?.chain.slice(1).some((l) => l.path === image)) out.push(p);
    }
    return out;
  }

  get paths(): string[] { return this.state.get<string[]>(KEY, []); }

  async add(file: string): Promise<void> {
    await this.state.update(KEY, [file, ...this.paths.filter((p) => p !== file)].slice(0, MAX));
    this.changed.fire(undefined);
  }

  async remove(file: string): Promise<void> {
    await this.state.update(KEY, this.paths.filter((p) => p !== file));
    this.changed.fire(undefined);
  }

  async clear(): Promise<void> {
    await this.state.update(KEY, []);
    this.changed.fire(undefined);
  }

  async getChildren(node?: RecentNode): Promise<RecentNode[]> {
    if (!node) {
      // only images that can have parents are read (the worker caches them): the others get no expand arrow
      await Promise.all(this.paths.filter((p) => CHAIN_EXTENSIONS.test(p)).map((p) => this.infoOf(p)));
      return this.paths.map((p) => this.remember({ kind: 'recent', id: `recent:${p}`, path: p }, undefined));
    }
    if (node.kind !== 'recent') return [];
    const info = await this.client.request(Inspect, { path: node.path });
    return [
      ...info.chain.slice(1).map((link, i) => this.remember({ kind: 'recentLink', id: `${node.id}/${i + 1}`, link, level: i + 1, of: node.path } as RecentNode, node)),
      ...info.problems.map((problem, i) => this.remember({ kind: 'recentProblem', id: `${node.id}/problem/${i}`, problem, of: node.path } as RecentNode, node)),
    ];
  }

  getParent(node: RecentNode): RecentNode | undefined { return this.parents.get(node.id); }

  getTreeItem(node: RecentNode): vscode.TreeItem {
    if (node.kind === 'recent') {
      const exists = fs.existsSync(node.path);
      const info = this.infos.get(node.path)?.info;
      const expandable = exists && (info ? info.chain.length > 1 || info.problems.length > 0 : CHAIN_EXTENSIONS.test(node.path) && info === undefined);
      const item = new vscode.TreeItem(path.basename(node.path), expandable ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.description = exists ? folderLabel(node.path) : 'missing';
      item.tooltip = node.path;
      item.resourceUri = vscode.Uri.file(node.path);
      item.iconPath = new vscode.ThemeIcon(exists ? 'file-binary' : 'warning');
      const optical = info ? info.format === 'iso' || info.format === 'udf' : /\.iso$/i.test(node.path);
      item.contextValue = exists ? `vdisk.recent hasImage${optical ? ' readOnlyOnly' : ' canWrite'}` : 'vdisk.recent missing';
      item.command = exists ? { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(node.path)] } : undefined;
      return item;
    }
    if (node.kind === 'recentLink') {
      const item = new vscode.TreeItem(path.basename(node.link.path), vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.description = `${node.level === 1 ? 'parent' : `ancestor ${node.level}`} · ${node.link.format}${node.link.subtype ? ` ${node.link.subtype}` : ''}`;
      item.tooltip = node.link.path;
      item.resourceUri = vscode.Uri.file(node.link.path);
      item.iconPath = new vscode.ThemeIcon('layers');
      item.contextValue = 'vdisk.recentLink hasImage';
      return item;
    }
    return problemItem(node.id, node.problem);
  }

  private remember(node: RecentNode, parent: RecentNode | undefined): RecentNode {
    this.parents.set(node.id, parent);
    return node;
  }
}

/** The image's folder relative to the workspace ("" at a folder's root), else the absolute folder. */
function folderLabel(file: string): string {
  const uri = vscode.Uri.file(file);
  const ws = vscode.workspace.getWorkspaceFolder(uri);
  if (!ws) return path.dirname(file);
  const rel = path.relative(ws.uri.fsPath, path.dirname(file));
  return (vscode.workspace.workspaceFolders?.length ?? 0) > 1 ? path.join(ws.name, rel) : rel;
}
