import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const DAY = join(root, '../shared/data/planetlab/20110303');
const bin = join(root, 'bin/nubis.js');

function nubis(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const FIELDS = [
  'day',
  'policy',
  'mode',
  'hosts',
  'vms',
  'energyKWh',
  'migrations',
  'slatah',
  'pdm',
  'slav',
  'esv',
  'hostShutdowns',
  'meanMigrationTimeS',
  'wallMs',
];

test('nubis sim --json prints one object per day and policy with the documented fields, and nothing else', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nubis-'));
  const report = join(tmp, 'r.html'),
    csv = join(tmp, 's.csv');
  const r = nubis(
    'sim',
    '--scenario',
    'planetlab',
    '--trace',
    DAY,
    '--limit-vms',
    '80',
    '--hosts',
    '50',
    '--policy',
    'thr-mmt:0.8,lr-mmt:1.2',
    '--mode',
    'cloudsim',
    '--json',
    '--report',
    report,
    '--csv',
    csv,
  );
  assert.equal(r.code, 0, r.err);
  const rows = JSON.parse(r.out);
  assert.equal(rows.length, 2);
  for (const row of rows) for (const f of FIELDS) assert.ok(f in row, `missing ${f}`);
  assert.deepEqual(
    rows.map((x: { policy: string }) => x.policy),
    ['thr-mmt:0.8', 'lr-mmt:1.2'],
  );
  assert.equal(rows[0].day, '20110303');
  assert.equal(rows[0].hosts, 50);
  assert.equal(rows[0].vms, 80);
  assert.ok(rows[0].slav >= 0 && rows[0].slav < 1, 'SLA metrics are fractions');
  assert.ok(Math.abs(rows[0].slav - rows[0].slatah * rows[0].pdm) < 1e-15);
  const html = readFileSync(report, 'utf8');
  assert.match(html, /<svg/);
  assert.match(html, /Active hosts/);
  const lines = readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(lines[0], 'day,policy,step,time_s,active_hosts,power_w,sla_violation,migrations,energy_kwh');
  assert.equal(lines.length, 1 + 2 * 287);
  // Deterministic: the same command gives the same numbers.
  const again = JSON.parse(
    nubis(
      'sim',
      '--trace',
      DAY,
      '--limit-vms',
      '80',
      '--hosts',
      '50',
      '--policy',
      'thr-mmt:0.8,lr-mmt:1.2',
      '--mode',
      'cloudsim',
      '--json',
    ).out,
  );
  assert.deepEqual(
    again.map((x: { energyKWh: number }) => x.energyKWh),
    rows.map((x: { energyKWh: number }) => x.energyKWh),
  );
});

test('several days give one row per day and policy and a mean ± sd summary', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nubis-days-'));
  for (const d of ['20110303', '20110306']) {
    mkdirSync(join(tmp, d));
    const src = join(root, '../shared/data/planetlab', d);
    for (const f of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      // eight synthetic-looking copies of a real trace each (sorted names)
      writeFileSync(
        join(tmp, d, f),
        readFileSync(
          join(src, spawnSync('ls', [src], { encoding: 'utf8' }).stdout.split('\n')[f.charCodeAt(0) - 97]!),
        ),
      );
    }
  }
  const r = nubis('sim', '--trace', tmp, '--hosts', '10', '--policy', 'thr-mmt:0.8', '--mode', 'default');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /20110303/);
  assert.match(r.out, /20110306/);
  assert.match(r.out, /mean ± sd/);
});

test('bad input gets one clear error line and a non-zero exit', () => {
  const bad = nubis('sim', '--trace', DAY, '--policy', 'foo-mmt:0.8');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /Unknown overload detector "foo".*accepted: .*thr/);
  const missing = nubis('sim', '--trace', '/nonexistent/day', '--policy', 'thr-mmt');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /Trace folder not found: \/nonexistent\/day/);
  const tmp = mkdtempSync(join(tmpdir(), 'nubis-bad-'));
  writeFileSync(join(tmp, 'vm1'), '1\n2\nabc\n');
  const malformed = nubis('sim', '--trace', tmp, '--policy', 'thr-mmt');
  assert.equal(malformed.code, 2);
  assert.match(malformed.err, /vm1:3: unexpected character "a"/);
  const mode = nubis('sim', '--trace', DAY, '--policy', 'thr-mmt', '--mode', 'fast');
  assert.equal(mode.code, 2);
  assert.match(mode.err, /Unknown mode "fast"; accepted: cloudsim, default/);
  assert.equal(bad.err.trim().split('\n').length, 1);
});

test('a scenario file is validated and errors name the field', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nubis-scn-'));
  const f = join(tmp, 's.yaml');
  writeFileSync(
    f,
    'name: mine\nhostTypes:\n  - { name: a, count: 2, pes: 2, mipsPerPe: -5, ramMiB: 4096, bandwidthMbps: 1000, power: hp-proliant-ml110-g4 }\nvmTypes:\n  - { name: v, mips: 500, ramMiB: 512 }\nworkload: { type: synthetic, vms: 3 }\n',
  );
  const r = nubis('sim', '--scenario', f, '--policy', 'thr-mmt');
  assert.equal(r.code, 2);
  assert.match(r.err, /s\.yaml: hostTypes\.0\.mipsPerPe: .*(>0|positive|greater)/i);
  const ok = join(tmp, 'ok.yaml');
  writeFileSync(
    ok,
    'name: mine\nhostTypes:\n  - { name: a, count: 20, pes: 2, mipsPerPe: 2000, ramMiB: 8192, bandwidthMbps: 1000, power: { type: linear, idleW: 100, maxW: 250 } }\nvmTypes:\n  - { name: v, mips: 1000, ramMiB: 1024 }\nworkload: { type: synthetic, vms: 30, seed: 4 }\n',
  );
  const good = nubis('sim', '--scenario', ok, '--policy', 'mad-mmt:2.5,npa', '--json');
  assert.equal(good.code, 0, good.err);
  const rows = JSON.parse(good.out);
  assert.equal(rows[1].energyKWh, (20 * 250 * 86400) / 3.6e6);
});

test("nubis sim --engine control-plane runs the control plane's automation on a scenario file: a row per policy, a report, errors name the field", () => {
  const tmp = mkdtempSync(join(tmpdir(), 'nubis-'));
  const file = join(tmp, 'ops.yaml'),
    report = join(tmp, 'ops.html');
  writeFileSync(
    file,
    [
      'name: cli-ops',
      'durationS: 10800',
      'hosts: [{count: 4, vcpus: 8, memoryMiB: 32768}]',
      'workload: {type: steps, vms: 8, steps: [{atS: 0, percent: 10}]}',
      'failures: {events: [{host: 1, atS: 3600, downS: 1800}]}',
    ].join('\n'),
  );
  const r = nubis(
    'sim',
    '--engine',
    'control-plane',
    '--scenario',
    file,
    '--policy',
    'thr-mmt:0.8,reservation',
    '--json',
    '--report',
    report,
  );
  assert.equal(r.code, 0, r.err);
  const rows = JSON.parse(r.out);
  assert.deepEqual(
    rows.map((x: { policy: string }) => x.policy),
    ['thr-mmt:0.8', 'reservation'],
  );
  for (const x of rows) {
    assert.equal(x.failures, 1);
    assert.ok(x.powerOffs >= 1, 'idle hosts are switched off');
    assert.ok(x.actions.some((a: string) => / host zone-1-h001 failed$/.test(a)));
  }
  assert.match(readFileSync(report, 'utf8'), /Hosts on[\s\S]*automatic actions/);
  writeFileSync(
    file,
    'name: bad\nhosts: [{count: 0, vcpus: 8, memoryMiB: 1}]\nworkload: {type: steps, vms: 1, steps: []}\n',
  );
  const bad = nubis('sim', '--engine', 'control-plane', '--scenario', file);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /hosts\.0\.count: .*workload\.steps: /);
  assert.match(
    nubis('sim', '--engine', 'warp').err,
    /Unknown engine "warp"; accepted: simulator, control-plane/,
  );
});
