import { describeFormat } from '../descriptor';
import { DESCRIPTOR_MARK, inspectVmdk, VMDK_MAGIC } from './inspect';

export const vmdkFormat = describeFormat('vmdk', {
  detectOrder: 30,
  // a sparse extent's magic, or a text descriptor
  detect: async (p) => p.head.toString('latin1', 0, 4) === VMDK_MAGIC
    || p.head.toString('latin1').replace(/^\uFEFF/, '').startsWith(DESCRIPTOR_MARK),
  inspect: (r) => inspectVmdk(r),
  qemuDriver: 'vmdk',
});
