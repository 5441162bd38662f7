import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { isNode } from './targets';

/** Remove from Recent Images (tree only). */
export async function forgetRecent(ctx: CommandContext, args: unknown[]): Promise<void> {
  const node = args[0];
  if (!isNode(node) || node.kind !== 'recent') throw new UserError('Select a recent image');
  await ctx.recent.remove(node.path);
}

/** Clear Recent Images. */
export async function clearRecent(ctx: CommandContext): Promise<void> {
  await ctx.recent.clear();
}
