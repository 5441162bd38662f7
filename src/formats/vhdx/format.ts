import { describeFormat } from '../descriptor';
import { inspectVhdx } from './inspect';

export const vhdxFormat = describeFormat('vhdx', {
  detectOrder: 10,
  detect: async (p) => p.head.toString('latin1', 0, 8) === 'vhdxfile',
  inspect: (r) => inspectVhdx(r),
  qemuDriver: 'vhdx',
});
