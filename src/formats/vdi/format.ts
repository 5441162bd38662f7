import { describeFormat } from '../descriptor';
import { inspectVdi, VDI_SIGNATURE } from './inspect';

export const vdiFormat = describeFormat('vdi', {
  detectOrder: 40,
  detect: async (p) => p.head.length >= 0x44 && p.head.readUInt32LE(0x40) === VDI_SIGNATURE,
  inspect: (r) => inspectVdi(r),
  qemuDriver: 'vdi',
});
