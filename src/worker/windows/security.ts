// The security descriptor AttachVirtualDisk gives the new disk device: SYSTEM and Administrators get full
// access, the user who attached it read, execute and write-attributes (read-only attach) or read, write and
// execute (read-write attach), and nobody else anything. Microsoft's sample passes O:BAG:BAD:(A;;GA;;;WD), which
// lets every local user (other sessions included) read and write the raw disk; NULL would copy the image file's
// descriptor, which decides differently per folder. docs/windows.md ("Attach") says why.
import koffi from 'koffi';
import { ErrorCode } from '../../common/protocol';
import { WorkerError } from '../errors';
import type { Api, Handle } from './api';
import * as C from './constants';
import { win32Error } from './win32-errors';

/** Rights of the attaching user on the disk device: write-attributes always (Explorer's Recycle Bin needs it). */
export function userRights(readOnly: boolean): number {
  const base = C.FILE_GENERIC_READ | C.FILE_GENERIC_EXECUTE | C.FILE_WRITE_ATTRIBUTES;
  return (readOnly ? base : base | C.FILE_GENERIC_WRITE) >>> 0;
}

/** SDDL for the attached disk: owner the user, protected DACL (nothing inherited), SYSTEM, Administrators, user. */
export function attachSddl(userSid: string, readOnly: boolean): string {
  if (!/^S-1-\d+(-\d+)+$/.test(userSid)) throw new Error(`not a SID string: ${userSid}`);
  return `O:${userSid}G:BAD:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x${userRights(readOnly).toString(16)};;;${userSid})`;
}

/** A binary SID (winnt.h SID: Revision, SubAuthorityCount, 6-byte big-endian authority, LE sub-authorities). */
export function sidToString(buf: Buffer, offset: number): string {
  if (offset < 0 || offset + 8 > buf.length) throw new Error('SID outside its buffer');
  const revision = buf[offset];
  const count = buf[offset + 1];
  if (revision !== 1 || count > 15 || offset + 8 + 4 * count > buf.length) throw new Error('malformed SID');
  const authority = buf.readUIntBE(offset + 2, 6);
  const subs: number[] = [];
  for (let i = 0; i < count; i++) subs.push(buf.readUInt32LE(offset + 8 + 4 * i));
  return ['S', revision, authority, ...subs].join('-');
}

/**
 * The SID of this process's user (GetTokenInformation TokenUser). TOKEN_USER's Sid pointer points into the same
 * buffer; it is read there, and a pointer outside the buffer fails loudly.
 */
export function currentUserSid(api: Api, close: (h: Handle) => void): string {
  const token: [Handle | null] = [null];
  if (!api.OpenProcessToken(api.GetCurrentProcess(), C.TOKEN_QUERY, token) || !token[0]) {
    throw win32Error(api.GetLastError(), 'Reading this process\'s user (OpenProcessToken)');
  }
  try {
    const needed: [number] = [0];
    api.GetTokenInformation(token[0], C.TOKEN_USER_CLASS, null, 0, needed);
    const buf = Buffer.alloc(Math.max(needed[0], 64));
    if (!api.GetTokenInformation(token[0], C.TOKEN_USER_CLASS, buf, buf.length, needed)) {
      throw win32Error(api.GetLastError(), 'Reading this process\'s user (GetTokenInformation)');
    }
    const sidAddress = buf.readBigUInt64LE(0);
    const offset = Number(sidAddress - koffi.address(buf));
    if (offset < 16 || offset >= buf.length) {
      throw new WorkerError(ErrorCode.OsError, 'GetTokenInformation(TokenUser) answered a SID outside its buffer', { reason: 'token-layout' });
    }
    return sidToString(buf, offset);
  } finally {
    close(token[0]);
  }
}
