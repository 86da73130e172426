import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DriverError } from '../../core/hypervisor.ts';
import { diskSerial } from '../../core/storage/host-storage.ts';
import { assignSlots, diskArgs, HOTPLUG_PORTS, type SlottedDisk } from './guest-disks.ts';

const disk = (i: number, slot?: number): SlottedDisk => ({
  volumeId: `v${i}`,
  pool: { name: 'p', kind: 'local' },
  sizeGiB: 1,
  serial: diskSerial(`v${i}`),
  ...(slot !== undefined ? { slot } : {}),
});

test('slots: kept where given, the lowest free ones otherwise, each port used once', () => {
  fc.assert(
    fc.property(
      fc.shuffledSubarray([...Array(HOTPLUG_PORTS).keys()]),
      fc.array(fc.boolean(), { maxLength: HOTPLUG_PORTS }),
      (slots, keep) => {
        const n = Math.min(slots.length, keep.length);
        const disks = Array.from({ length: n }, (_, i) => disk(i, keep[i] ? slots[i] : undefined));
        const out = assignSlots(disks);
        assert.equal(out.length, n);
        assert.equal(new Set(out.map((d) => d.slot)).size, n);
        out.forEach((d, i) => {
          assert.ok(d.slot >= 0 && d.slot < HOTPLUG_PORTS);
          if (keep[i]) assert.equal(d.slot, slots[i]);
          assert.equal(d.volumeId, `v${i}`);
        });
      },
    ),
  );
});

test('slots: too many disks, a repeated volume or slot, or a serial that is not diskSerial() are refused', () => {
  const bad = (disks: SlottedDisk[]) => assert.throws(() => assignSlots(disks), DriverError);
  bad(Array.from({ length: HOTPLUG_PORTS + 1 }, (_, i) => disk(i)));
  bad([disk(1), disk(1)]);
  bad([disk(1, 2), disk(2, 2)]);
  bad([disk(1, HOTPLUG_PORTS)]);
  bad([{ ...disk(1), serial: 'a,b=c' }]);
  bad([{ ...disk(1), serial: 'x'.repeat(21) }]);
});

test('every guest gets the hot-plug ports; a guest with volumes needs pools', () => {
  const spec = { id: 'g', memoryMiB: 64, vcpus: 1, image: { kernel: 'k' } };
  const args = diskArgs(spec, undefined);
  assert.equal(args.filter((a) => a.startsWith('pcie-root-port,')).length, HOTPLUG_PORTS);
  assert.throws(() => diskArgs({ ...spec, disks: [disk(1)] }, undefined), /has no pools/);
});
