import * as vscode from 'vscode';
import { Inspect } from '../common/protocol';
import type { CommandContext } from './context';
import { imageTargets } from './targets';
import type { DiskTreeNode } from '../views/attached-disks';

/**
 * Show Dependency Chain: for an attached disk, reveal it in the tree with its whole chain expanded;
 * for an image that is not attached, list the chain (self first) and open the picked layer's report.
 */
export async function showChain(ctx: CommandContext, args: unknown[]): Promise<string[]> {
  const [image] = await imageTargets(args, 'Show Dependency Chain...');
  await ctx.refresher.now();
  const attached = ctx.disks.disks.find((d) => d.image === image);
  if (attached) {
    const roots = await ctx.disks.getChildren();
    const diskNode = roots.find((n) => n.kind === 'disk' && n.disk.device === attached.device) as DiskTreeNode;
    await ctx.disksView.reveal(diskNode, { select: true, focus: true, expand: 3 });
    return attached.chain?.map((c) => c.path) ?? [image];
  }
  const info = await ctx.client.request(Inspect, { path: image });
  const items = info.chain.map((c, i) => ({
    label: `${i === 0 ? '$(file-binary)' : '$(layers)'} ${c.path.split(/[\\/]/).pop()}`,
    description: `${i === 0 ? 'image' : i === 1 ? 'parent' : `ancestor ${i}`} · ${c.format}${c.subtype ? ` ${c.subtype}` : ''}`,
    detail: c.path,
  }));
  for (const p of info.problems) items.push({ label: `$(error) ${p.code}`, description: p.message, detail: '' });
  void vscode.window.showQuickPick(items, { title: `Dependency chain of ${items[0]?.detail ?? image}` }).then((pick) => {
    if (pick?.detail) void vscode.commands.executeCommand('vdisk.inspect', vscode.Uri.file(pick.detail));
  });
  return info.chain.map((c) => c.path);
}
