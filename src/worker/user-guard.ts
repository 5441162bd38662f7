// An elevated worker acts for one user (Linux: linux/served-user.ts): the server asks this guard before it opens any
// file a request names, so root's reach never shows through (an image, a parent or a folder that user could not open
// is refused before it is read). Unset in an ordinary worker, which already runs with the user's own rights.

export interface UserGuard {
  /** Throws PermissionDenied unless the user may read each file (and write those with write: true). */
  require(files: { path: string; write: boolean }[]): void;
  /** A file or folder the worker created for the user: make it theirs. */
  adopt(file: string): void;
}

let guard: UserGuard | null = null;

export function setUserGuard(g: UserGuard): void { guard = g; }
export function userGuard(): UserGuard | null { return guard; }
