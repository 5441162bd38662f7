// "Attached Disks": every attached virtual disk, expanding to its layers (the parents it reads through, with the
// problem on a failing one) and its volumes; group rows "Layers" and "Volumes" when it has both.
// Ids are stable across refreshes so VS Code keeps expansion and selection.
import * as path from 'path';
import * as vscode from 'vscode';
import { problemItem } from './problem-item';
import type { AttachedDisk, VolumeInfo } from '../common/protocol';
import type { ChainLink, Problem } from '../common/image';
import { formatBytes } from '../common/describe';
import { layerRole } from './inspector/model';

export type DiskTreeNode =
  | { kind: 'disk'; id: string; disk: AttachedDisk }
  | { kind: 'group'; id: string; disk: AttachedDisk; group: 'layers' | 'volumes' }
  | { kind: 'image'; id: string; disk: AttachedDisk; link: ChainLink; level: number }
  | { kind: 'volume'; id: string; disk: AttachedDisk; volume: VolumeInfo }
  | { kind: 'blank'; id: string; disk: AttachedDisk }
  | { kind: 'problem'; id: string; disk: AttachedDisk; problem: Problem }
  | { kind: 'message'; id: string; text: string; detail?: string; error: boolean };

/** What the tree shows: the last successful listing, or why there is none. */
export type DisksSnapshot = { disks: AttachedDisk[] } | { error: string };

const ENGINE_NAMES: Record<string, string> = {
  loop: 'loop device', qemu: 'qemu-storage-daemon (FUSE export) + loop device', vhdimount: 'libvhdi vhdimount (FUSE) + loop device',
  virtdisk: 'VirtDisk', external: 'attached by another tool', 'vdisk-fuse': 'vdisk FUSE server (read-only) + loop device',
};

export class AttachedDisksProvider implements vscode.TreeDataProvider<DiskTreeNode> {
  private readonly changed = new vscode.EventEmitter<DiskTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private snapshot: DisksSnapshot | undefined;
  private readonly parents = new Map<string, DiskTreeNode | undefined>();

  /** @param load fetches the current listing; called by the refresher, never by VS Code directly. */
  constructor(private readonly load: () => Promise<AttachedDisk[]>) {}

  get disks(): AttachedDisk[] { return this.snapshot && 'disks' in this.snapshot ? this.snapshot.disks : []; }

  /** Reloads and repaints. Only the refresher calls this. */
  async reload(): Promise<DisksSnapshot> {
    try {
      this.snapshot = { disks: await this.load() };
    } catch (e) {
      this.snapshot = { error: e instanceof Error ? e.message : String(e) };
    }
    this.changed.fire(undefined);
    return this.snapshot;
  }

  async getChildren(node?: DiskTreeNode): Promise<DiskTreeNode[]> {
    if (!node) {
      if (!this.snapshot) await this.reload();
      const s = this.snapshot!;
      if ('error' in s) return [this.remember({ kind: 'message', id: 'message:error', text: 'Could not list attached disks', detail: s.error, error: true }, undefined)];
      return s.disks.map((disk) => this.remember({ kind: 'disk', id: diskId(disk), disk }, undefined));
    }
    if (node.kind === 'disk') {
      const layers = this.layers(node);
      const volumes = this.volumes(node);
      if (layers.length && volumes.length) {
        return (['layers', 'volumes'] as const).map((group) => this.remember({ kind: 'group', id: `${node.id}/${group}`, disk: node.disk, group }, node));
      }
      return [...layers, ...volumes];
    }
    if (node.kind === 'group') return node.group === 'layers' ? this.layers(node) : this.volumes(node);
    return [];
  }

  /** The parents the disk reads through (the disk's own image is the disk row), then the chain's problems. */
  private layers(under: DiskTreeNode & { disk: AttachedDisk }): DiskTreeNode[] {
    const d = under.disk;
    const base = diskId(d);
    return [
      ...(d.chain ?? []).slice(1).map((link, i) => this.remember({ kind: 'image', id: `${base}/${i + 1}`, disk: d, link, level: i + 1 }, under)),
      ...(d.problems ?? []).map((problem, i) => this.remember({ kind: 'problem', id: `${base}/problem/${i}`, disk: d, problem }, under)),
    ];
  }

  private volumes(under: DiskTreeNode & { disk: AttachedDisk }): DiskTreeNode[] {
    const d = under.disk;
    const base = diskId(d);
    // an empty list is a disk with no partition table and no file system; undefined is "not known" (another tool's)
    if (d.volumes && d.volumes.length === 0) return [this.remember({ kind: 'blank', id: `${base}/blank`, disk: d }, under)];
    return (d.volumes ?? []).map((volume) => this.remember({ kind: 'volume', id: `${base}/volume/${volume.device}@${volume.offset}`, disk: d, volume }, under));
  }

  getParent(node: DiskTreeNode): DiskTreeNode | undefined {
    return this.parents.get(node.id);
  }

  getTreeItem(node: DiskTreeNode): vscode.TreeItem {
    switch (node.kind) {
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = node.detail;
        item.tooltip = node.detail;
        item.iconPath = new vscode.ThemeIcon(node.error ? 'error' : 'info', node.error ? new vscode.ThemeColor('errorForeground') : undefined);
        item.contextValue = node.error ? 'vdisk.error' : 'vdisk.message';
        return item;
      }
      case 'disk': return this.diskItem(node);
      case 'group': {
        const n = node.group === 'layers' ? (node.disk.chain?.length ?? 1) - 1 : node.disk.volumes?.length ?? 0;
        const item = new vscode.TreeItem(node.group === 'layers' ? 'Layers' : 'Volumes', vscode.TreeItemCollapsibleState.Expanded);
        item.id = node.id;
        item.description = node.group === 'layers' ? `${n} parent${n === 1 ? '' : 's'}` : n ? `${n}` : 'none';
        item.iconPath = new vscode.ThemeIcon(node.group === 'layers' ? 'layers' : 'folder-library');
        item.contextValue = `vdisk.group ${node.group}`;
        return item;
      }
      case 'blank': {
        // "Initialize..." (partition and format) is offered here once the chain-management work provides it
        const item = new vscode.TreeItem('No file system (blank disk)', vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.tooltip = 'The disk has no partition table and no file system, so there is nothing to mount. Partition and format it (for example with fdisk and mkfs on its device) to use it.';
        item.iconPath = new vscode.ThemeIcon('circle-slash');
        item.contextValue = 'vdisk.blank';
        return item;
      }
      case 'problem':
        return problemItem(node.id, node.problem);
      case 'volume': {
        const v = node.volume;
        const item = new vscode.TreeItem(v.label || v.fsType || path.basename(v.device), vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = [v.fsType ?? 'unknown file system', formatBytes(v.size), v.mountPoint ? `mounted at ${v.mountPoint}${v.readOnly ? ' (read-only)' : ''}` : 'not mounted'].join(' · ');
        item.tooltip = new vscode.MarkdownString([`**${escapeMd(v.label || v.device)}**`, '', `Device: \`${v.device}\``,
          `File system: ${v.fsType ?? 'unknown'}`, `Size: ${formatBytes(v.size)} at offset ${v.offset}`,
          v.mountPoint ? `Mounted at \`${v.mountPoint}\`${v.readOnly ? ' (read-only)' : ''}` : 'Not mounted'].join('  \n'));
        item.iconPath = new vscode.ThemeIcon(v.mountPoint ? 'folder-opened' : 'folder');
        item.contextValue = ['vdisk.volume', v.mountPoint ? 'mounted' : 'unmounted', v.fsType ? 'hasVolumes oneVolume' : 'noFileSystem'].join(' ');
        if (v.mountPoint) item.resourceUri = vscode.Uri.file(v.mountPoint);
        return item;
      }
      case 'image': {
        const l = node.link;
        const last = (node.disk.chain?.length ?? 0) <= node.level + 1;
        const item = new vscode.TreeItem(path.basename(l.path), vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.description = [layerRole(l, node.level), l.format + (l.subtype ? ` ${l.subtype}` : '')].join(' · ');
        item.tooltip = new vscode.MarkdownString(`**${escapeMd(l.path)}**\n\n${l.format}${l.subtype ? ` (${l.subtype})` : ''}${l.id ? `\n\nid \`${l.id}\`` : ''}`);
        item.iconPath = last && node.disk.problems?.length
          ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('problemsWarningIcon.foreground'))
          : new vscode.ThemeIcon(node.level === 0 ? 'file-binary' : l.role === 'extent' || l.role === 'data-file' ? 'file' : 'layers');
        item.resourceUri = vscode.Uri.file(l.path);
        item.contextValue = 'vdisk.image hasImage';
        return item;
      }
    }
  }

  private diskItem(node: DiskTreeNode & { kind: 'disk' }): vscode.TreeItem {
    const d = node.disk;
    const hasChildren = (d.chain?.length ?? 0) > 1 || !!d.problems?.length || d.volumes !== undefined;
    const item = new vscode.TreeItem(d.image ? path.basename(d.image) : d.device,
      hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    const children = d.image ? childrenOf(d.image, this.disks) : [];
    item.description = [d.device, d.readOnly ? 'read-only' : 'read-write', d.lifetime, ...(d.ours ? [] : ['other tool']),
      ...(children.length ? [`parent of ${children.map((c) => path.basename(c.image!)).join(', ')}`] : [])].join(' · ');
    item.tooltip = diskTooltip(d, children);
    item.iconPath = new vscode.ThemeIcon(d.readOnly ? 'lock' : 'database');
    const mounted = d.volumes?.some((v) => v.mountPoint);
    const n = d.volumes?.length ?? 0;
    item.contextValue = ['vdisk.disk', d.ours ? 'ours' : 'foreign', d.image ? 'hasImage' : 'noImage', d.readOnly ? 'readOnly' : 'readWrite',
      mounted ? 'mounted' : 'unmounted', n === 0 ? 'noVolumes' : n === 1 ? 'hasVolumes oneVolume' : 'hasVolumes manyVolumes'].join(' ');
    if (d.image) item.resourceUri = vscode.Uri.file(d.image);
    return item;
  }

  private remember(node: DiskTreeNode, parent: DiskTreeNode | undefined): DiskTreeNode {
    this.parents.set(node.id, parent);
    return node;
  }
}

export function diskId(d: AttachedDisk): string {
  return `disk:${d.device}|${d.image ?? ''}`;
}

/** Attached disks that read through `image` (it is one of their parents). */
export function childrenOf(image: string, disks: readonly AttachedDisk[]): AttachedDisk[] {
  return disks.filter((d) => d.image && d.image !== image && d.chain?.slice(1).some((l) => l.path === image));
}

function diskTooltip(d: AttachedDisk, children: AttachedDisk[]): vscode.MarkdownString {
  const lines = [`**${escapeMd(d.image ?? d.device)}**`, '', `Device: \`${d.device}\``, `Access: ${d.readOnly ? 'read-only' : 'read-write'}`,
    `Lifetime: ${d.lifetime === 'session' ? 'session (detached when VS Code or its worker ends)' : 'permanent (stays until detached)'}`,
    `Engine: ${ENGINE_NAMES[d.engine] ?? d.engine}`];
  if (d.sizeBytes) lines.push(`Size: ${formatBytes(d.sizeBytes)}`);
  for (const c of children) lines.push(`In use as the parent of ${escapeMd(path.basename(c.image!))} (${c.device})`);
  if (!d.ours) lines.push('', '_Attached by another tool_');
  return new vscode.MarkdownString(lines.join('  \n'));
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
