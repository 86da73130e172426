import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

// scripts/apt-get-wait.sh against a fake apt-get on PATH: it fails with apt's lock message a given
// number of times, then succeeds (or fails with another error).
const root = new URL('..', import.meta.url).pathname;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(lockedTimes: number, finalError?: string, args = ['update', '-qq']) {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-apt-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'count'), '0');
  writeFileSync(
    join(dir, 'apt-get'),
    `#!/bin/sh
echo "$@" >> "${dir}/calls"
n=$(cat "${dir}/count"); echo $((n + 1)) > "${dir}/count"
if [ "$n" -lt ${lockedTimes} ]; then
  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2; exit 100
fi
${finalError ? `echo "Reading package lists..."; echo "E: ${finalError}" >&2; exit 100` : 'echo "Reading package lists..."; exit 0'}
`,
  );
  chmodSync(join(dir, 'apt-get'), 0o755);
  const r = spawnSync('bash', [join(root, 'scripts/apt-get-wait.sh'), ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${dir}:${process.env.PATH}`,
      APT_LOCK_RETRY_S: '0',
      APT_LOCK_TIMEOUT_S: '600',
    },
  });
  return { ...r, calls: readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') };
}

test('apt-get-wait.sh waits for a held lock, then succeeds quietly, asking dpkg to wait too', () => {
  const r = run(3);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.calls.length, 4);
  assert.ok(r.calls.every((c) => c === '-o DPkg::Lock::Timeout=600 update -qq'));
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /waiting for another apt\/dpkg to finish: E: Could not get lock .*process 4242/);
});

test("apt-get-wait.sh shows apt's real error and exit status when the command fails", () => {
  const r = run(0, 'Unable to locate package qemu-system-x86', ['install', '-y', 'qemu-system-x86']);
  assert.equal(r.status, 100);
  assert.equal(r.calls.length, 1, 'an error other than a lock is not retried');
  assert.match(
    r.stderr,
    /apt-get install -y qemu-system-x86 failed \(exit 100\):[\s\S]*E: Unable to locate package qemu-system-x86/,
  );
});
