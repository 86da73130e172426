/**
 * Which disk an incoming migration may use (hard-linked: the same file): never a path the caller
 * names. The destination derives it from the guest id (the one its migration ticket names) and its
 * configured migration source folders, and checks the file before and after linking it (a qcow2
 * header names other files QEMU would open: a backing file or an external data file; those must lie
 * in the image folders).
 */
import { execFile } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DriverError } from '../../core/hypervisor.ts';
import { checkGuestId, resolveInside } from './host-paths.ts';
import type { QemuDriverOptions } from './qemu-driver.ts';

/** The qcow2 header's magic, "QFI\xfb" (QEMU docs/interop/qcow2.txt). */
const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/** The state folders an incoming disk may come from: each source folder itself and its subfolders. */
function sourceStateDirs(opts: Pick<QemuDriverOptions, 'stateDir' | 'migrationSourceDirs'>): string[] {
  const own = existsSync(opts.stateDir) ? realpathSync(resolve(opts.stateDir)) : undefined;
  const out = new Set<string>();
  for (const root of opts.migrationSourceDirs ?? [dirname(resolve(opts.stateDir))]) {
    if (!existsSync(root)) continue;
    const r = realpathSync(resolve(root));
    out.add(r);
    for (const e of readdirSync(r, { withFileTypes: true })) if (e.isDirectory()) out.add(join(r, e.name)); // symlinks to folders are not followed
  }
  if (own) out.delete(own);
  return [...out];
}

/** True when `p` starts with the qcow2 magic. */
function isQcow2(p: string): boolean {
  const magic = Buffer.alloc(4);
  const fd = openSync(p, 'r');
  try {
    readSync(fd, magic, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  return magic.equals(QCOW2_MAGIC);
}

/**
 * The disk of guest `id` in the migration source folders: `S/guests/ID/disk.qcow2` for a source state
 * folder S (a configured folder or one of its subfolders, never this agent's own), with no symlink on
 * the way, a regular file owned by this process's user, starting with the qcow2 magic; exactly one.
 * @throws DriverError BAD_SPEC when there is none or it fails a check, ALREADY_EXISTS never;
 *   INVALID_STATE when several source folders hold a disk for this id (the file is never echoed)
 */
export function findIncomingDisk(
  opts: Pick<QemuDriverOptions, 'stateDir' | 'migrationSourceDirs'>,
  id: string,
): string {
  checkGuestId(id);
  const uid = process.getuid?.();
  const found: string[] = [];
  for (const s of sourceStateDirs(opts)) {
    const p = join(s, 'guests', id, 'disk.qcow2');
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    // No symlink anywhere below S: the resolved path must be the path itself.
    if (!st.isFile() || realpathSync(p) !== p)
      throw new DriverError('BAD_SPEC', `The source disk of "${id}" is not a regular file; refusing it`, id);
    if (uid !== undefined && st.uid !== uid)
      throw new DriverError(
        'BAD_SPEC',
        `The source disk of "${id}" is not owned by this agent's user (uid ${uid}); refusing it`,
        id,
      );
    found.push(p);
  }
  if (found.length === 0)
    throw new DriverError(
      'BAD_SPEC',
      `No disk of guest "${id}" in this host's migration source folders (guests/${id}/disk.qcow2 in --migration-source-dirs)`,
      id,
    );
  if (found.length > 1)
    throw new DriverError(
      'INVALID_STATE',
      `${found.length} migration source folders hold a disk of guest "${id}"; refusing to guess which (remove the stale one)`,
      id,
    );
  if (!isQcow2(found[0]!))
    throw new DriverError('BAD_SPEC', `The source disk of "${id}" is not a qcow2 image`, id);
  return found[0]!;
}

/**
 * Check the files a qcow2 header points QEMU at: a backing file must resolve inside `imageDirs`, and
 * an external data file is refused. Reads the header with `qemu-img info` (which does not open the
 * backing file; -U: a shared disk is open in the source QEMU, which holds its lock).
 * @throws DriverError BAD_SPEC naming the problem (never the file's contents)
 */
export async function checkQcow2References(
  qemuImg: string,
  disk: string,
  imageDirs: readonly string[],
  id: string,
): Promise<void> {
  const out = await new Promise<string>((ok, fail) =>
    execFile(
      qemuImg,
      ['info', '-U', '--output=json', '-f', 'qcow2', disk],
      { timeout: 30_000 },
      (e, stdout) => (e ? fail(e) : ok(stdout)),
    ),
  ).catch(() => {
    throw new DriverError('BAD_SPEC', `The disk of "${id}" is not a readable qcow2 image`, id);
  });
  let info: {
    'backing-filename'?: string;
    'full-backing-filename'?: string;
    'format-specific'?: { data?: { 'data-file'?: string } };
  };
  try {
    info = JSON.parse(out) as typeof info;
  } catch {
    throw new DriverError('BAD_SPEC', `The disk of "${id}" is not a readable qcow2 image`, id);
  }
  if (info['format-specific']?.data?.['data-file'] !== undefined)
    throw new DriverError('BAD_SPEC', `The disk of "${id}" names an external data file; refusing it`, id);
  const backing = info['full-backing-filename'] ?? info['backing-filename'];
  if (backing !== undefined)
    // A backing file named relative to the copy resolves next to it: outside the image folders too.
    resolveInside(imageDirs, resolve(dirname(disk), backing), "disk's backing file", id);
}
