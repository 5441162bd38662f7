import { describeFormat } from '../descriptor';
import { inspectIso } from './inspect';

export const isoFormat = describeFormat('iso', {
  detectOrder: 70,
  detect: async (p) => (await p.descriptors()).some((d) => d.id === 'CD001'),
  inspect: async (r, ctx) => inspectIso(r, await ctx.descriptors()),
  qemuDriver: null,
});
