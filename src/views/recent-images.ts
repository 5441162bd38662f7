// "Recent Images": images attached, inspected or created from this workspace, with their chains; attach in one click.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { problemItem } from './problem-item';
import { Inspect } from '../common/protocol';
import type { ChainLink, Problem } from '../common/image';
import type { WorkerClient } from '../host/worker-client';

const KEY = 'vdisk.recentImages';
const MAX = 20;

export type RecentNode =
  | { kind: 'recent'; id: string; path: string }
  | { kind: 'recentLink'; id: string; link: ChainLink; level: number; of: string }
  | { kind: 'recentProblem'; id: string; problem: Problem; of: string };

export class RecentImagesProvider implements vscode.TreeDataProvider<RecentNode> {
  private readonly changed = new vscode.EventEmitter<RecentNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly parents = new Map<string, RecentNode | undefined>();

  constructor(private readonly state: vscode.Memento, private readonly client: WorkerClient) {}

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
    if (!node) return this.paths.map((p) => this.remember({ kind: 'recent', id: `recent:${p}`, path: p }, undefined));
    if (node.kind !== 'recent') return [];
    // the chain is read when the user expands an image, never for the whole list
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
      const item = new vscode.TreeItem(path.basename(node.path), exists ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
      item.id = node.id;
      item.description = exists ? folderLabel(node.path) : 'missing';
      item.tooltip = node.path;
      item.resourceUri = vscode.Uri.file(node.path);
      item.iconPath = new vscode.ThemeIcon(exists ? 'file-binary' : 'warning');
      item.contextValue = exists ? 'vdisk.recent hasImage' : 'vdisk.recent missing';
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
