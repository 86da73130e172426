/**
 * Self-contained HTML report: result tables and inline SVG line charts (active hosts, power,
 * SLA violation, migrations per step), one line per policy. No scripts, no external assets.
 */
import { seriesKey, type RunOutput } from './run.ts';
import { summarize } from './summary.ts';

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function niceMax(x: number): number {
  if (!(x > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(x)));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function fmt(x: number): string {
  if (x === 0) return '0';
  if (Math.abs(x) >= 1000) return (x / 1000).toFixed(Math.abs(x) >= 10000 ? 0 : 1) + 'k';
  if (Math.abs(x) < 0.01) return x.toExponential(0);
  return String(Number(x.toPrecision(3)));
}

/** One SVG line chart; x in hours. */
export function lineChart(
  title: string,
  yLabel: string,
  lines: { name: string; x: number[]; y: number[] }[],
): string {
  const W = 560,
    H = 260,
    L = 56,
    R = 12,
    T = 28,
    B = 36;
  const hours = Math.max(1e-9, ...lines.flatMap((l) => l.x)) / 3600;
  const xStep =
    [0.25, 0.5, 1, 2, 3, 4, 6, 12, 24, 48, 168].find((st) => hours / st <= 8) ?? Math.ceil(hours / 8);
  const xTicks = Math.max(1, Math.ceil(hours / xStep - 1e-9));
  const xMax = xTicks * xStep;
  const yMax = niceMax(Math.max(0, ...lines.flatMap((l) => l.y)));
  const sx = (x: number) => L + (x / 3600 / xMax) * (W - L - R);
  const sy = (y: number) => T + (1 - y / yMax) * (H - T - B);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`,
  );
  parts.push(
    `<text x="${W / 2}" y="17" text-anchor="middle" font-size="13" font-weight="600">${esc(title)}</text>`,
  );
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${sy(y)}" y2="${sy(y)}" stroke="#e5e5e5"/><text x="${L - 6}" y="${sy(y) + 4}" text-anchor="end" font-size="10">${fmt(y)}</text>`,
    );
  }
  for (let i = 0; i <= xTicks; i++) {
    const x = xStep * i;
    parts.push(
      `<text x="${sx(x * 3600)}" y="${H - B + 14}" text-anchor="middle" font-size="10">${fmt(x)}</text>`,
    );
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 6}" text-anchor="middle" font-size="10">time (h)</text>`);
  parts.push(
    `<text x="12" y="${(T + H - B) / 2}" text-anchor="middle" font-size="10" transform="rotate(-90 12 ${(T + H - B) / 2})">${esc(yLabel)}</text>`,
  );
  parts.push(
    `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`,
  );
  lines.forEach((l, i) => {
    const pts = l.x.map((x, k) => `${sx(x).toFixed(1)},${sy(l.y[k]!).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.4" points="${pts}"><title>${esc(l.name)}</title></polyline>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function legend(names: string[]): string {
  return `<div class="legend">${names.map((n, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(n)}</span>`).join('')}</div>`;
}

/** Render the whole report. */
export function renderReport(out: RunOutput, meta: { title: string; command?: string }): string {
  const days = [...new Set(out.rows.map((r) => r.day))];
  const policies = [...new Set(out.rows.map((r) => r.policy))];
  const pct = (x: number, d = 3) => (x * 100).toFixed(d);
  const severalSeeds = new Set(out.rows.map((r) => r.seed)).size > 1;
  const dayCell = (r: { day: string; seed: number }) => esc(severalSeeds ? `${r.day} seed ${r.seed}` : r.day);
  const rowsHtml = out.rows
    .map(
      (r) =>
        `<tr><td>${dayCell(r)}</td><td>${esc(r.policy)}</td><td>${r.mode}</td><td>${r.energyKWh.toFixed(2)}</td><td>${r.migrations}</td><td>${pct(r.slatah)}</td><td>${pct(r.pdm, 4)}</td><td>${pct(r.slav, 5)}</td><td>${r.esv.toExponential(3)}</td><td>${r.hostShutdowns}</td><td>${r.meanMigrationTimeS.toFixed(2)}</td><td>${r.wallMs.toFixed(0)}</td></tr>`,
    )
    .join('');
  const sum = summarize(out.rows);
  const sumHtml =
    days.length > 1
      ? `<h2>Mean ± standard deviation over ${days.length} days</h2><table><tr><th>policy</th><th>energy kWh</th><th>migrations</th><th>SLATAH %</th><th>PDM %</th><th>SLAV %</th><th>ESV</th></tr>${sum.map((s) => `<tr><td>${esc(s.policy)}</td><td>${s.mean.energyKWh.toFixed(2)} ± ${s.stdev.energyKWh.toFixed(2)}</td><td>${s.mean.migrations.toFixed(0)} ± ${s.stdev.migrations.toFixed(0)}</td><td>${pct(s.mean.slatah)} ± ${pct(s.stdev.slatah)}</td><td>${pct(s.mean.pdm, 4)} ± ${pct(s.stdev.pdm, 4)}</td><td>${pct(s.mean.slav, 5)} ± ${pct(s.stdev.slav, 5)}</td><td>${s.mean.esv.toExponential(3)}</td></tr>`).join('')}</table>`
      : '';
  // One group of charts per day, or per day and seed with several seeds (the series' keys, run.ts).
  const groups = [
    ...new Map(out.rows.map((r) => [`${r.day}\0${r.seed}`, { day: r.day, seed: r.seed }] as const)).values(),
  ];
  const charts = groups
    .map(({ day, seed }) => {
      const series = policies
        .map((p) => ({ name: p, s: out.series.get(seriesKey(day, p, seed, severalSeeds)) }))
        .filter((x) => x.s);
      const title = severalSeeds ? `${day}, seed ${seed}` : day;
      const mk = (f: 'activeHosts' | 'powerW' | 'slaViolation' | 'migrations', scale = 1) =>
        series.map(({ name, s }) => ({ name, x: s!.timeS, y: s![f].map((v) => v * scale) }));
      return `<h2>${esc(title)}</h2>${legend(series.map((x) => x.name))}<div class="charts">${lineChart('Active hosts', 'hosts', mk('activeHosts'))}${lineChart('Data-center power', 'kW', mk('powerW', 1e-3))}${lineChart('SLA violation (hosts under-serving)', '% of active hosts', mk('slaViolation', 100))}${lineChart('Migrations started per step', 'migrations', mk('migrations'))}</div>`;
    })
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,td:nth-child(2),th{text-align:left}th{background:#f4f4f4}
.charts{display:flex;flex-wrap:wrap;gap:12px}.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle}code{background:#f4f4f4;padding:1px 4px}
</style></head><body><h1>${esc(meta.title)}</h1>${meta.command ? `<p><code>${esc(meta.command)}</code></p>` : ''}
<table><tr><th>day</th><th>policy</th><th>mode</th><th>energy kWh</th><th>migrations</th><th>SLATAH %</th><th>PDM %</th><th>SLAV %</th><th>ESV</th><th>host shutdowns</th><th>mean migration s</th><th>wall ms</th></tr>${rowsHtml}</table>
${sumHtml}${charts}</body></html>`;
}

/** Report of `nubis sim --engine control-plane`: one line per policy, and the actions taken. */
export function renderOpsReport(
  results: import('./ops-run.ts').OpsResult[],
  meta: { title: string; command?: string },
): string {
  const rows = results
    .map(
      (r) =>
        `<tr><td>${esc(r.policy)}</td><td>${r.energyKWh.toFixed(2)}</td><td>${r.meanActiveHosts.toFixed(1)}</td><td>${r.migrations}</td><td>${r.powerOffs}</td><td>${r.powerOns}</td><td>${r.failures}</td><td>${r.haRestarts}</td><td>${r.lostVms}</td><td>${(r.overloadShare * 100).toFixed(2)}</td></tr>`,
    )
    .join('');
  const mk = (f: 'activeHosts' | 'powerW' | 'slaViolation' | 'migrations', scale = 1) =>
    results.map((r) => ({ name: r.policy, x: r.series.timeS, y: r.series[f].map((v) => v * scale) }));
  const actions = results
    .map(
      (r) =>
        `<details><summary>${esc(r.policy)}: ${r.actions.length} automatic actions</summary><pre>${esc(
          r.actions
            .map((a) => {
              const [t, ...rest] = a.split(' ');
              return `${(Number(t) / 3600).toFixed(2).padStart(6)} h  ${rest.join(' ')}`;
            })
            .join('\n'),
        )}</pre></details>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th{text-align:left}th{background:#f4f4f4}
.charts{display:flex;flex-wrap:wrap;gap:12px}.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle}code{background:#f4f4f4;padding:1px 4px}pre{font-size:12px}
</style></head><body><h1>${esc(meta.title)}</h1>${meta.command ? `<p><code>${esc(meta.command)}</code></p>` : ''}
<table><tr><th>policy</th><th>energy kWh</th><th>mean hosts on</th><th>migrations</th><th>power-offs</th><th>power-ons</th><th>host failures</th><th>HA restarts</th><th>VMs lost</th><th>overloaded %</th></tr>${rows}</table>
${legend(results.map((r) => r.policy))}<div class="charts">${lineChart('Hosts on', 'hosts', mk('activeHosts'))}${lineChart('Data-center power', 'kW', mk('powerW', 1e-3))}${lineChart('Overloaded hosts', '% of hosts on', mk('slaViolation', 100))}${lineChart('Migrations per step', 'migrations', mk('migrations'))}</div>
<h2>Actions</h2>${actions}</body></html>`;
}

/** Report of `nubis sim --memory-compare`: the three placements' table, hosts and memory over time. */
export function renderMemoryCompareReport(
  out: import('./memory-compare.ts').MemoryCompareOutput,
  table: { head: string[]; cells: string[][] },
  meta: { title: string; command?: string },
): string {
  const names = out.series.map((s) => s.placement);
  const hosts = out.series.map((s) => ({ name: s.placement, x: s.sim.timeS, y: s.sim.activeHosts }));
  const gib = (xs: number[]) => xs.map((x) => x / 1024);
  const demand = out.series.flatMap((s) => [
    { name: `${s.placement} demand`, x: s.memory.timeS, y: gib(s.memory.demandMiB) },
  ]);
  const capacity = out.series.map((s) => ({
    name: `${s.placement} capacity`,
    x: s.memory.timeS,
    y: gib(s.memory.capacityMiB),
  }));
  const swap = out.series.map((s) => ({ name: s.placement, x: s.memory.timeS, y: gib(s.memory.swapMiB) }));
  const shared = out.series.map((s) => ({
    name: s.placement,
    x: s.memory.timeS,
    y: gib(s.memory.sharedMiB),
  }));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title><style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,td:nth-child(2),th{text-align:left}th{background:#f4f4f4}
.charts{display:flex;flex-wrap:wrap;gap:12px}.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:14px;height:3px;margin-right:5px;vertical-align:middle}code{background:#f4f4f4;padding:1px 4px}
</style></head><body><h1>${esc(meta.title)}</h1>${meta.command ? `<p><code>${esc(meta.command)}</code></p>` : ''}
<p>unaware: RAM counted at flavor size; memory: working sets at a risk (memory-aware admission); sharing: that plus the sharing credit and score (same trace, seed and policy).</p>
<table><tr>${table.head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${table.cells.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>
${legend(names)}<div class="charts">${lineChart('Active hosts', 'hosts', hosts)}${lineChart('Shared pages', 'GiB', shared)}${lineChart('Host swap', 'GiB', swap)}</div>
${legend([...demand, ...capacity].map((l) => l.name))}<div class="charts">${lineChart('Memory demand vs capacity of hosts in use', 'GiB', [...demand, ...capacity])}</div>
</body></html>`;
}
