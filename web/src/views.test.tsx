/** Component tests: the non-trivial views rendered to HTML (react-dom/server) and their pure helpers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderToStaticMarkup } from 'react-dom/server';
import type { EventRow, Host, Plan, Vm } from './api.ts';
import { byRack, fromHost, HostTile, HostTiles, tileHosts } from './components/HostTiles.tsx';
import { costGain, PlanView, progress } from './components/PlanView.tsx';
import { loadColor, sortBy } from './format.ts';
import { linesFor, migrations, navFor } from './model.ts';
import { chosen, rejectionRows } from './pages/CreateVm.tsx';
import { filterVms } from './pages/VmList.tsx';
import { invoiceTotals } from './pages/Usage.tsx';

const host = (name: string, o: Partial<Host> = {}): Host => ({
  id: `id-${name}`,
  name,
  state: 'up',
  datacenter: 'dc1',
  zone: 'z',
  rack: 'r1',
  tier: 'general',
  driver: 'sim',
  lastSeenAt: null,
  powerAddress: null,
  cpu: 0.5,
  powerW: 175,
  vms: 2,
  capacity: { vcpus: 32, memoryMiB: 131072, diskGiB: 2000 },
  reserved: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
  used: { vcpus: 4, memoryMiB: 65536, diskGiB: 40 },
  overcommit: { cpu: 4, memory: 1, disk: 1 },
  ...o,
});
const vm = (name: string, o: Partial<Vm> = {}): Vm => ({
  id: name,
  name,
  tenantId: 't',
  state: 'running',
  flavor: 'm1.small',
  image: 'tiny',
  hostId: 'h',
  hostName: 'sim-001',
  serverGroupId: null,
  ha: false,
  haPriority: 0,
  cpu: 0.1,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '',
  allowedActions: [],
  ...o,
});

test('host tiles: grouped by rack in natural order, coloured by CPU when on, marked by state, with VM count and memory bar', () => {
  const hosts = [
    host('sim-010', { rack: 'r2' }),
    host('sim-002'),
    host('sim-001', { state: 'failed' }),
    host('sim-003', { state: 'off', cpu: 0 }),
  ];
  assert.deepEqual(
    byRack(hosts.map(fromHost)).map((r) => [r.rack, r.hosts.map((h) => h.name)]),
    [
      ['dc1 / r1', ['sim-001', 'sim-002', 'sim-003']],
      ['dc1 / r2', ['sim-010']],
    ],
  );
  const on = renderToStaticMarkup(<HostTile h={fromHost(host('sim-002', { cpu: 1 }))} />);
  assert.match(on, /class="tile state-up"/);
  assert.match(on, new RegExp(`background:${loadColor(1).replace(/[()]/g, '\\$&')}`));
  assert.match(on, /title="sim-002: on, CPU 100 %, memory 50 % allocated, 2 VM\(s\), 175 W"/);
  assert.match(on, /class="tile-mem" style="width:50%"/);
  const off = renderToStaticMarkup(<HostTile h={fromHost(host('sim-003', { state: 'off' }))} />);
  assert.match(off, /state-off/);
  assert.doesNotMatch(off, /background:/, 'a host that is off is not coloured by load');
  assert.match(renderToStaticMarkup(<HostTiles hosts={hosts.map(fromHost)} />), /data-state="failed"/);
  assert.equal(loadColor(0), 'hsl(130, 62%, 54%)');
  assert.equal(loadColor(2), loadColor(1), 'clamped');
});

test("tiles from the summary's columns are the tiles of the same hosts from /v1/hosts", () => {
  const hosts = [
    host('sim-001', { cpu: 0.25, vms: 3 }),
    host('sim-002', { state: 'off', rack: 'r2', cpu: 0 }),
  ];
  const columns = {
    id: hosts.map((h) => h.id),
    name: hosts.map((h) => h.name),
    state: hosts.map((h) => h.state),
    rack: [0, 1],
    zone: [0, 0],
    racks: ['dc1 / r1', 'dc1 / r2'],
    zones: ['z'],
    cpu: hosts.map((h) => h.cpu),
    powerW: hosts.map((h) => h.powerW),
    vms: hosts.map((h) => h.vms),
    used: { vcpus: [4, 4], memoryMiB: [65536, 65536], diskGiB: [40, 40] },
    capacity: { vcpus: [32, 32], memoryMiB: [131072, 131072], diskGiB: [2000, 2000] },
  };
  assert.deepEqual(tileHosts(columns), hosts.map(fromHost));
  assert.equal(
    renderToStaticMarkup(<HostTiles hosts={tileHosts(columns)} />),
    renderToStaticMarkup(<HostTiles hosts={hosts.map(fromHost)} />),
  );
});

test('plan view: every action with its reason and cost or gain; progress for each status', () => {
  const plan: Plan = {
    id: 'p',
    status: 'proposed',
    zone: null,
    createdAt: '',
    createdBy: 'a',
    summary: 's',
    result: null,
    finishedAt: null,
    actions: [
      {
        type: 'power-on',
        hostId: 'h3',
        hostName: 'sim-003',
        reason: 'capacity for the VMs moved off sim-001',
        cost: { watts: 100 },
      },
      {
        type: 'migrate',
        vmId: 'v',
        vmName: 'web',
        from: 'h1',
        to: 'h3',
        reason: 'sim-001 is overloaded',
        cost: { timeS: 18.4, dataMiB: 2100 },
        gain: { loadMoved: 0.35 },
      },
      { type: 'power-off', hostId: 'h2', hostName: 'sim-002', reason: 'empty', gain: { wattsSaved: 90 } },
    ],
  };
  const html = renderToStaticMarkup(
    <PlanView plan={plan} hostName={(id) => ({ h1: 'sim-001', h3: 'sim-003' })[id] ?? id} />,
  );
  assert.match(
    html,
    /<td>web <span class="muted">sim-001 → sim-003<\/span><\/td><td>sim-001 is overloaded<\/td><td>18 s, 2100 MiB · moves 35 % of the host&#x27;s CPU<\/td>/,
  );
  assert.equal(costGain(plan.actions[0]!), 'adds 100 W');
  assert.equal(costGain(plan.actions[2]!), 'saves 90 W');
  assert.equal(
    progress({ ...plan, status: 'applying', result: { done: 1, of: 3, wave: 1, waves: 3 } }),
    'applying: 1 of 3 done (wave 1 of 3)',
  );
  assert.equal(
    progress({
      ...plan,
      status: 'failed',
      result: { done: 1, failed: { action: 1, error: 'boom' }, cancelled: 1 },
    }),
    'failed at action 2: boom; 1 done, 1 cancelled',
  );
  assert.equal(
    progress({ ...plan, status: 'stale', result: { violations: [{ action: 0, reason: 'VM gone' }] } }),
    'stale: action 1: VM gone',
  );
  assert.equal(
    progress({ ...plan, status: 'waiting', result: { done: 1, of: 3, waitingForNames: ['sim-003'] } }),
    'waiting for sim-003 to switch on; 1 of 3 done',
  );
});

test('VM list: filter by text, state and HA; sort by any column with nulls last', () => {
  const vms = [
    vm('b-web', { cpu: 0.9, ha: true }),
    vm('a-db', { state: 'stopped', cpu: null, hostName: 'sim-007' }),
    vm('c-web', { cpu: 0.2, flavor: 'm1.large' }),
  ];
  assert.deepEqual(
    filterVms(vms, { text: 'web', state: '', ha: '' }, { col: 'name', dir: 1 }).map((v) => v.name),
    ['b-web', 'c-web'],
  );
  assert.deepEqual(
    filterVms(vms, { text: 'sim-007', state: '', ha: '' }, { col: 'name', dir: 1 }).map((v) => v.name),
    ['a-db'],
  );
  assert.deepEqual(
    filterVms(vms, { text: '', state: 'running', ha: 'ha' }, { col: 'name', dir: 1 }).map((v) => v.name),
    ['b-web'],
  );
  assert.deepEqual(
    filterVms(vms, { text: '', state: '', ha: '' }, { col: 'cpu', dir: -1 }).map((v) => v.name),
    ['b-web', 'c-web', 'a-db'],
  );
  assert.deepEqual(
    sortBy(['sim-10', 'sim-9', 'sim-100'], (x) => x, 1),
    ['sim-9', 'sim-10', 'sim-100'],
  );
});

test('placement preview: the chosen host by name; rejections per host and filter in host order', () => {
  const d = {
    hostId: 'h2',
    explanation: 'x',
    ranked: [{ hostId: 'h2', hostName: 'sim-002', score: 1 }],
    rejected: [
      { hostId: 'h10', hostName: 'sim-010', filter: 'Capacity', reason: 'needs 8 vCPUs, 2 free' },
      { hostId: 'h1', hostName: 'sim-001', filter: 'HostState', reason: 'host is off' },
    ],
  };
  assert.equal(chosen(d), 'sim-002');
  assert.deepEqual(rejectionRows(d), [
    { host: 'sim-001', filter: 'HostState', reason: 'host is off' },
    { host: 'sim-010', filter: 'Capacity', reason: 'needs 8 vCPUs, 2 free' },
  ]);
});

test('roles pick the pages; migrations come from events oldest first; simulation lines per policy in hours', () => {
  assert.deepEqual(
    navFor('member').map((x) => x[1]),
    ['VMs', 'Create VM', 'Images', 'Volumes', 'Usage'],
  );
  assert.deepEqual(
    navFor('operator').map((x) => x[1]),
    ['Data center', 'VMs', 'Images', 'Volumes', 'Storage pools', 'Plans', 'Usage', 'Simulations'],
  );
  assert.deepEqual(
    navFor('admin').map((x) => x[1]),
    [
      'Data center',
      'VMs',
      'Create VM',
      'Images',
      'Volumes',
      'Storage pools',
      'Plans',
      'Usage',
      'Simulations',
    ],
  );
  const ev = (id: number, kind: string, detail: Record<string, unknown>): EventRow => ({
    id,
    at: `2026-01-01T00:0${id}:00Z`,
    kind,
    vmId: 'v',
    hostId: null,
    actor: 'a',
    detail,
  });
  assert.deepEqual(
    migrations([
      ev(3, 'vm.migrated', { from: 'b', to: 'c', totalMs: 900, downtimeMs: 20 }),
      ev(2, 'vm.stopped', {}),
      ev(1, 'vm.migrated', { from: 'a', to: 'b', modeled: true }),
    ]).map((m) => `${m.from}→${m.to} ${m.totalMs ?? '-'} ${m.modeled}`),
    ['a→b - true', 'b→c 900 false'],
  );
  const s = (n: number) => ({
    timeS: [300, 600],
    activeHosts: [n, n + 1],
    powerW: [1000, 2000],
    slaViolation: [0, 0.5],
    migrations: [0, 1],
    energyKWh: [0, 1],
  });
  const l = linesFor({ series: { 'd1|thr': s(5), 'd1|lr': s(7), 'd2|thr': s(9) } }, 'd1', 'powerW', 1e-3);
  assert.deepEqual(l, {
    x: [300 / 3600, 600 / 3600],
    series: [
      { label: 'thr', values: [1, 2] },
      { label: 'lr', values: [1, 2] },
    ],
  });
});

test("the usage page shows an invoice's totals per currency and never adds EUR to USD", () => {
  assert.equal(
    invoiceTotals({
      totals: [
        { currency: 'EUR', amount: 3.3 },
        { currency: 'USD', amount: 5 },
      ],
    }),
    '3.30 EUR + 5.00 USD',
  );
  assert.equal(invoiceTotals({ totals: [{ currency: 'EUR', amount: 0.1 }] }), '0.10 EUR');
  assert.equal(invoiceTotals({ totals: [] }), 'nothing billed');
});
