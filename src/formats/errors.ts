// Thrown only when a file cannot be read at all; anything readable is an image (raw at worst).
// create-diff adds: 'exists' (child already there), 'unsupported' (parent not VHD/VHDX, bad child extension),
// 'chain-broken' (the parent's own chain has a problem).
// The block layer (openDisk) adds: 'corrupt' (a structure it needs is damaged), 'refused-layer' (a file the image
// pulls in is not one vdisk may open: not a regular file, a device, /proc or /sys). The codes: common/error-reasons.ts.
import type { FormatErrorCode } from '../common/error-reasons';

export type { FormatErrorCode };

export class FormatError extends Error {
  constructor(readonly code: FormatErrorCode, message: string) {
    super(message);
    this.name = 'FormatError';
  }
}
