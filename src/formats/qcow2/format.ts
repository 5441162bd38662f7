import { describeFormat } from '../descriptor';
import { inspectQcow2, QCOW_MAGIC } from './inspect';

export const qcow2Format = describeFormat('qcow2', {
  detectOrder: 20,
  detect: async (p) => p.head.length >= 4 && p.head.readUInt32BE(0) === QCOW_MAGIC,
  inspect: (r) => inspectQcow2(r),
  qemuDriver: 'qcow2',
});
