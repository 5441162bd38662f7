/** Problems of a differencing disk's parent link that pointing it at the right file fixes ("Locate Parent..."). */
export const PARENT_LINK_CODES: ReadonlySet<string> = new Set(['parent-missing', 'parent-id-mismatch', 'parent-unreadable', 'parent-locator-missing']);
