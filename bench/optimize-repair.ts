/**
 * `npm run bench:optimize -- --repair`: BtrPlace's repair experiment (Hermenier et al., IEEE TDSC
 * 2013) at 5,000 hosts / 30,000 VMs (quick: 500 / 3,000) with ~400 hard constraints, after a load
 * increase and after a rack put into maintenance: the time to a feasible plan (repair: only the
 * VMs that must move), then large-neighbourhood search from it, and the time to a plan within 2 %
 * of the bound (hosts). Saves bench/results/optimize-repair[-quick].json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable } from '../src/cli/table.ts';
import { lowerBound } from '../src/policies/bounds/bounds.ts';
import { zoneParts } from '../src/policies/optimize/lns-optimize.ts';
import { optimize } from '../src/policies/optimize/optimize.ts';
import { repairPlacement } from '../src/policies/optimize/repair.ts';
import { repairInstance, type RepairFault } from '../src/policies/optimize/repair-instances.ts';
import type { MilpSolver } from '../src/policies/optimize/solver-port.ts';
import type { PackInstance } from '../src/policies/optimize/instance.ts';
import { seededRandom } from '../src/runtime/random.ts';

/** The L1/L2 bound on hosts, summed over the zones (VMs stay in their zone). */
function zoneBound(inst: PackInstance): number {
  return zoneParts(inst).reduce((s, p) => {
    const ids = new Set(p.vms.map((v) => inst.vms[v]!.id));
    return (
      s +
      lowerBound({
        dims: inst.dims,
        hosts: p.hosts.map((h) => inst.hosts[h]!),
        vms: inst.vms.filter((v) => ids.has(v.id)),
      }).hosts
    );
  }, 0);
}

/** Runs the repair benchmark and prints/saves its rows. */
export async function repairBench(o: {
  quick: boolean;
  json: boolean;
  root: string;
  solver: MilpSolver;
  now: () => number;
  log: (s: string) => void;
}): Promise<void> {
  const sizesArg = process.argv.find((a) => a.startsWith('--repair-size='))?.slice(14);
  const [hosts = 500, vms = 3000] = sizesArg
    ? sizesArg.split('x').map(Number)
    : o.quick
      ? [500, 3000]
      : [5000, 30000];
  const limitS = Number(
    process.argv.find((a) => a.startsWith('--time-limit='))?.slice(13) ?? (o.quick ? 10 : 60),
  );
  const rows = [];
  for (const fault of ['load', 'maintenance'] as RepairFault[]) {
    const ri = repairInstance({ hosts, vms, seed: 14, fault });
    const inst = ri.instance;
    const hostsBefore = new Set(inst.vms.map((v) => v.hostId)).size;
    const bound = zoneBound(inst);
    const within = (used: number) => used <= bound / 0.98 + 1e-9;
    const t0 = o.now();
    const rep = repairPlacement(inst);
    const feasibleS = o.now() - t0;
    if (!rep) {
      o.log(`${fault}: no feasible repair found by best fit`);
      rows.push({ fault, hosts, vms, constraints: inst.constraints!.length, error: 'no feasible repair' });
      continue;
    }
    const repairedHosts = new Set(rep.hostOfVm).size;
    let within2S: number | undefined = within(repairedHosts) ? feasibleS : undefined;
    const start = new Map(inst.vms.map((v, i) => [v.id, inst.hosts[rep.hostOfVm[i]!]!.id]));
    const r = await optimize(inst, o.solver, {
      strategy: 'lns',
      start,
      timeLimitS: limitS,
      knownBound: bound,
      now: o.now,
      random: seededRandom(14),
      onImprove: (_, used) => {
        if (within2S === undefined && within(used)) within2S = o.now() - t0;
      },
    });
    const totalS = o.now() - t0;
    const row = {
      fault,
      hosts,
      vms,
      constraints: inst.constraints!.length,
      hostsBefore,
      mustMove: rep.mustMove.length,
      repairedHosts,
      feasibleS: round(feasibleS),
      finalHosts: r.incumbent?.hostsUsed,
      migrations: r.incumbent?.migrations,
      bound,
      gap: r.incumbent ? round((r.incumbent.hostsUsed - bound) / r.incumbent.hostsUsed, 4) : undefined,
      within2S: within2S === undefined ? undefined : round(within2S),
      totalS: round(totalS),
      notes: r.notes,
    };
    rows.push(row);
    o.log(JSON.stringify(row));
  }
  const out = { quick: o.quick, hosts, vms, timeLimitS: limitS, rows };
  mkdirSync(join(o.root, 'bench/results'), { recursive: true });
  const file = join(o.root, 'bench/results', `optimize-repair${o.quick ? '-quick' : ''}.json`);
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  if (o.json) console.log(JSON.stringify(out, null, 2));
  else
    console.log(
      formatTable(
        [
          'fault',
          'hosts',
          'VMs',
          'constraints',
          'must move',
          'feasible s',
          'hosts (repair → LNS)',
          'bound',
          'gap %',
          'migrations',
          '≤2 % s',
        ],
        rows.map((x) =>
          'error' in x
            ? [x.fault, x.hosts, x.vms, x.constraints, '-', '-', x.error, '-', '-', '-', '-']
            : [
                x.fault,
                x.hosts,
                x.vms,
                x.constraints,
                x.mustMove,
                x.feasibleS,
                `${x.hostsBefore} → ${x.repairedHosts} → ${x.finalHosts}`,
                x.bound,
                x.gap === undefined ? '-' : (x.gap * 100).toFixed(1),
                x.migrations ?? '-',
                x.within2S ?? '-',
              ],
        ),
      ),
    );
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
