import { DetachResult, List } from '../common/protocol';
import { UserError } from '../host/run-command';
import type { CommandContext } from './context';
import { detachAll as detachEach } from './detach';

/** Detach All Disk Images: every disk vdisk attached (other tools' disks are left alone). */
export async function detachAll(ctx: CommandContext): Promise<DetachResult[]> {
  const ours = (await ctx.client.request(List)).filter((d) => d.ours);
  if (!ours.length) throw new UserError('No disks attached by Virtual Disks');
  return detachEach(ctx, ours.map((d) => d.device));
}
