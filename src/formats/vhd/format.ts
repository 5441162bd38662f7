import { describeFormat } from '../descriptor';
import { inspectVhd, VHD_COOKIE } from './inspect';

const cookie = (b: Buffer | null) => !!b && b.toString('latin1', 0, 8) === VHD_COOKIE;

export const vhdFormat = describeFormat('vhd', {
  detectOrder: 50,
  // the footer at the end; dynamic/differencing VHDs keep a copy at 0: still a VHD when the end footer is gone
  detect: async (p) => cookie(await p.tail()) || cookie(p.head),
  inspect: (r) => inspectVhd(r),
  qemuDriver: 'vpc',
});
