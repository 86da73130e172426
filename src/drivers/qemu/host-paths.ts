/**
 * The one place where names from outside become paths on a host: guest ids and snapshot names are
 * checked against one pattern each, and every file the agent or the QEMU driver reads, copies or
 * deletes is resolved (symlinks followed) and must lie inside a configured folder. Both the agent's
 * routes (first line) and the QEMU driver (second line) call these.
 */
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { DriverError, GUEST_ID_PATTERN } from '../../core/hypervisor.ts';

export { GUEST_ID_PATTERN };

/** Snapshot names: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit. */
export const SNAPSHOT_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** A value from outside, quoted and cut short for an error message. */
const quote = (v: unknown): string => JSON.stringify(String(v).slice(0, 80));

/**
 * Check a guest id from outside (URL, body, folder listing).
 * @throws DriverError BAD_SPEC naming the rule
 * @example checkGuestId('vm-12') // 'vm-12'
 */
export function checkGuestId(id: unknown): string {
  if (typeof id !== 'string' || !GUEST_ID_PATTERN.test(id))
    throw new DriverError(
      'BAD_SPEC',
      `Bad guest id ${quote(id)}: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  return id;
}

/**
 * Check a snapshot name from outside (it reaches qemu-img and the QEMU monitor).
 * @throws DriverError BAD_SPEC naming the rule
 */
export function checkSnapshotName(name: unknown, vmId?: string): string {
  if (typeof name !== 'string' || !SNAPSHOT_NAME_PATTERN.test(name))
    throw new DriverError(
      'BAD_SPEC',
      `Bad snapshot name ${quote(name)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      vmId,
    );
  return name;
}

/** True when `inner` (a resolved path) is `root` itself or below it. */
function within(root: string, inner: string): boolean {
  const r = relative(root, inner);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** Resolved forms of the folders that exist (a missing folder holds nothing). */
function realRoots(roots: readonly string[]): string[] {
  return roots.filter((r) => existsSync(r)).map((r) => realpathSync(resolve(r)));
}

/**
 * Resolve an existing file (following symlinks) and require it inside one of `roots`.
 * @param what what the file is for, for the message ("kernel", "disk to copy")
 * @returns the resolved path
 * @throws DriverError BAD_SPEC when it does not exist or lies outside every root (contents never read)
 */
export function resolveInside(roots: readonly string[], path: unknown, what: string, vmId?: string): string {
  if (typeof path !== 'string' || path === '' || path.includes('\0'))
    throw new DriverError('BAD_SPEC', `Bad ${what} path ${quote(path)}`, vmId);
  const allowed = realRoots(roots);
  let real: string;
  try {
    real = realpathSync(resolve(path));
  } catch {
    throw new DriverError('BAD_SPEC', `${what} ${quote(path)} not found on this host`, vmId);
  }
  if (!allowed.some((r) => within(r, real)))
    throw new DriverError(
      'BAD_SPEC',
      `${what} ${quote(path)} is outside this host's folders for it (${allowed.join(', ') || 'none configured'}); put the file there`,
      vmId,
    );
  return real;
}

/**
 * The folder of guest `id` under `stateDir/guests`, after checking the id; if the folder exists it
 * must really be there (not a symlink to elsewhere).
 * @throws DriverError BAD_SPEC
 */
export function guestFolder(stateDir: string, id: unknown): string {
  const d = join(stateDir, 'guests', checkGuestId(id));
  const st = lstatSync(d, { throwIfNoEntry: false });
  if (st?.isSymbolicLink())
    throw new DriverError(
      'BAD_SPEC',
      `Guest folder of ${quote(id)} is a symlink; refusing to use it`,
      id as string,
    );
  if (st) {
    const base = realpathSync(join(stateDir, 'guests'));
    const real = realpathSync(d);
    if (real !== join(base, id as string))
      throw new DriverError('BAD_SPEC', `Guest folder of ${quote(id)} points outside ${base}`, id as string);
  }
  return d;
}
