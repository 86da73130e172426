import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VmRow } from '../src/control/compute/vm-reads.ts';
import { canonicalIpv6 } from '../src/api/openstack/compute/server-create.ts';
import { novaHostId, serverState } from '../src/api/openstack/compute/server-view.ts';

const vm = (state: string, paused = 0) => ({ state, paused }) as unknown as VmRow;

test('serverState() maps nubis states and running operations to Nova status, vm_state, power_state and task', () => {
  const cases: [VmRow, string | null, boolean, [string, string, number, string | null]][] = [
    [vm('building'), 'create', false, ['BUILD', 'building', 0, 'spawning']],
    [vm('running'), null, false, ['ACTIVE', 'active', 1, null]],
    [vm('stopped'), null, false, ['SHUTOFF', 'stopped', 4, null]],
    [vm('suspended', 1), null, false, ['PAUSED', 'paused', 3, null]],
    [vm('suspended', 0), null, false, ['SUSPENDED', 'suspended', 7, null]],
    [vm('running'), 'reboot', false, ['REBOOT', 'active', 1, 'rebooting']],
    [vm('running'), 'reboot', true, ['HARD_REBOOT', 'active', 1, 'rebooting_hard']],
    [vm('migrating'), 'migrate', false, ['MIGRATING', 'active', 1, 'migrating']],
    [vm('running'), 'stop', false, ['ACTIVE', 'active', 1, 'powering-off']],
    [vm('running'), 'suspend', false, ['ACTIVE', 'active', 1, 'suspending']],
    [vm('running'), 'volume-attach', false, ['ACTIVE', 'active', 1, null]],
    [vm('error'), null, false, ['ERROR', 'error', 0, null]],
    // A build whose operation is gone (interrupted) is not BUILD forever.
    [vm('building'), null, false, ['ERROR', 'error', 0, null]],
  ];
  for (const [v, running, hard, want] of cases) {
    const s = serverState({ vm: v, running, hard });
    assert.deepEqual([s.status, s.vmState, s.power, s.task], want, `${v.state} ${running}`);
  }
});

test("novaHostId() is Nova's sha224 of project and host, empty without a host", () => {
  // python3 -c "import hashlib; print(hashlib.sha224(b'p1' + b'sim-001').hexdigest())"
  assert.equal(novaHostId('p1', 'sim-001'), 'fb1025c828f9d5d04164b33c34a9483d347c0dedc3457a2125fb6e2a');
  assert.equal(novaHostId('p1', null), '');
});

test('canonicalIpv6() writes addresses as RFC 5952 (what Tempest compares accessIPv6 with)', () => {
  assert.equal(canonicalIpv6('0000:0000:0000:0000:0000:babe:220.12.22.2'), '::babe:dc0c:1602');
  assert.equal(canonicalIpv6('2001:DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalIpv6('2001:2001::3'), '2001:2001::3');
  assert.equal(canonicalIpv6('::'), '::');
});
