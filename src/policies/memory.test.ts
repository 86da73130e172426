import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balloonRound, ksmDecision } from './memory.ts';

const guests = [
  { id: 'a', memoryMiB: 1024, balloonMiB: 1024, minMiB: 256, usedMiB: 300 }, // floor 364, slack 660
  { id: 'b', memoryMiB: 1024, balloonMiB: 1024, minMiB: 512, usedMiB: 100 }, // floor 512, slack 512
  { id: 'c', memoryMiB: 512, balloonMiB: 512, minMiB: 512 }, // no slack
];

test('under pressure the guest with most slack gives first, never below its guarantee or working set', () => {
  // host 4096 MiB, 400 free (9.8 %) → shortfall to 20 %: 819.2 − 400 = 419.2 MiB
  // a: 25 % of 660 = 165 → shortfall 254.2; b: 25 % of 512 = 128 → 126.2 left (c has no slack)
  const d = balloonRound({ totalMiB: 4096, freeMiB: 400 }, guests);
  assert.deepEqual(
    d.map((x) => [x.id, x.toMiB]),
    [
      ['a', 859],
      ['b', 896],
    ],
  );
  assert.match(d[0]!.reason, /host free 10 % < 20 %: reclaim 165 MiB of 660 MiB slack/);
});

test('a guest at its floor is never squeezed further, and relaxed hosts give memory back', () => {
  const atFloor = [{ id: 'x', memoryMiB: 1024, balloonMiB: 364, minMiB: 256, usedMiB: 300 }];
  assert.deepEqual(balloonRound({ totalMiB: 4096, freeMiB: 100 }, atFloor), []);
  // 50 % free > 40 %: give back 25 % of the missing 660 MiB
  const back = balloonRound({ totalMiB: 4096, freeMiB: 2048 }, atFloor);
  assert.deepEqual(
    back.map((x) => [x.id, x.toMiB]),
    [['x', 529]],
  );
  // in between: nothing
  assert.deepEqual(balloonRound({ totalMiB: 4096, freeMiB: 1200 }, atFloor), []);
});

test("relaxed hosts give memory back only up to the control plane's target", () => {
  const g = { id: 'x', memoryMiB: 1024, balloonMiB: 400, minMiB: 256, usedMiB: 300, ceilingMiB: 600 };
  // 25 % of the 200 MiB missing up to the target, not of the 624 MiB missing up to the flavor
  const back = balloonRound({ totalMiB: 4096, freeMiB: 2048 }, [g]);
  assert.deepEqual(
    back.map((x) => [x.id, x.toMiB]),
    [['x', 450]],
  );
  assert.match(back[0]!.reason, /up to the control plane's target 600 MiB/);
  assert.deepEqual(balloonRound({ totalMiB: 4096, freeMiB: 2048 }, [{ ...g, balloonMiB: 600 }]), []);
  // Under pressure the local loop still reclaims below the target (down to use + headroom).
  const under = balloonRound({ totalMiB: 4096, freeMiB: 100 }, [{ ...g, balloonMiB: 600 }]);
  assert.deepEqual(
    under.map((x) => [x.id, x.toMiB]),
    [['x', 541]],
  );
});

test('KSM switches on under pressure and off when relaxed, with hysteresis', () => {
  assert.equal(ksmDecision({ totalMiB: 1000, freeMiB: 200 }, false).run, true);
  assert.equal(ksmDecision({ totalMiB: 1000, freeMiB: 400 }, true).run, true); // between: keep
  assert.equal(ksmDecision({ totalMiB: 1000, freeMiB: 600 }, true).run, false);
});
