import { DetachResult, List } from '../common/protocol';
import { preConfirmed } from '../host/notify';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { detachAll as detachEach } from './detach';

/** Detach Every Disk Image...: every disk vdisk attached (other tools' disks are left alone), after asking. */
export async function detachAll(ctx: CommandContext, args: unknown[] = []): Promise<DetachResult[]> {
  const ours = (await ctx.client.request(List)).filter((d) => d.ours);
  if (!ours.length) throw new UserError('No disks attached by Virtual Disks');
  // one disk with nothing mounted is still "all of them": ask anyway
  return detachEach(ctx, ours.map((d) => d.device), preConfirmed(args), true);
}
