/** Locate (or build) the tiny guest and tell whether real-QEMU tests can run here. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
export const GUEST_DIR = process.env.NUBIS_GUEST_DIR ?? join(root, '.nubis/guest');

export interface TinyGuest {
  kernel: string;
  initrd: string;
}

let cached: TinyGuest | string | undefined;

/** The tiny guest, or a reason why QEMU tests cannot run. In CI (NUBIS_REQUIRE_QEMU=1) a missing piece throws. */
export function tinyGuest(): TinyGuest | string {
  if (cached !== undefined) return cached;
  const require = process.env.NUBIS_REQUIRE_QEMU === '1';
  const fail = (why: string) => {
    if (require) throw new Error(`QEMU tests required but ${why}`);
    cached = why;
    return why;
  };
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0)
    return fail('qemu-system-x86_64 is not installed (bash scripts/install-host-deps.sh)');
  const kernel = join(GUEST_DIR, 'vmlinuz'),
    initrd = join(GUEST_DIR, 'initramfs.cpio.gz');
  if (!existsSync(kernel) || !existsSync(initrd)) {
    try {
      execFileSync('bash', [join(root, 'scripts/build-guest.sh'), GUEST_DIR], { stdio: 'ignore' });
    } catch {
      return fail('the tiny guest could not be built (bash scripts/build-guest.sh)');
    }
  }
  cached = { kernel, initrd };
  return cached;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until `pred(serial log)` holds; returns the log. */
export async function waitForSerial(
  path: string,
  pred: (log: string) => boolean,
  timeoutMs = 60_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let log = '';
  while (Date.now() < deadline) {
    try {
      log = readFileSync(path, 'utf8');
    } catch {
      log = '';
    }
    if (pred(log)) return log;
    await sleep(100);
  }
  throw new Error(
    `Serial log ${path} did not show the expected output within ${timeoutMs} ms; last lines:\n${log.split('\n').slice(-6).join('\n')}`,
  );
}

/** Last heartbeat counter and completed full self-check passes in a serial log. */
export function guestProgress(log: string): { heartbeat: number; passes: number; bad: string[] } {
  let heartbeat = 0,
    passes = 0;
  const bad: string[] = [];
  for (const line of log.split('\n')) {
    const hb = /^nubis-hb (\d+)/.exec(line);
    if (hb) heartbeat = Number(hb[1]);
    const p = /^nubis-pass (\d+) ok/.exec(line);
    if (p) passes = Number(p[1]);
    if (line.startsWith('nubis-bad')) bad.push(line.trim());
  }
  return { heartbeat, passes, bad };
}
