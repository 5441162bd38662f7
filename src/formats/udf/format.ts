import { describeFormat } from '../descriptor';
import { hasUdfNsr } from '../iso/inspect';
import { inspectUdf } from './inspect';

export const udfFormat = describeFormat('udf', {
  // before iso: a UDF bridge disc carries CD001 too
  detectOrder: 60,
  detect: async (p) => hasUdfNsr(await p.descriptors()),
  inspect: async (r, ctx) => inspectUdf(r, await ctx.descriptors()),
  qemuDriver: null,
});
