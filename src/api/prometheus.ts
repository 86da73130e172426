/** GET /metrics: Prometheus text exposition of the cluster and of the API's latency. */
import type { FastifyInstance } from 'fastify';
import type { ControlPlane } from '../control/control-plane.ts';
import { storeStats } from '../control/store/open-store.ts';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Records every response's latency and serves /metrics (no auth: bind to loopback or scrape through a proxy). */
export function registerPrometheus(app: FastifyInstance, cp: ControlPlane): void {
  const latency = new Map<string, { count: number; sum: number; buckets: number[] }>();
  app.addHook('onResponse', async (req, reply) => {
    const key = `${req.method} ${req.routeOptions.url ?? 'unmatched'} ${reply.statusCode}`;
    const e = latency.get(key) ?? { count: 0, sum: 0, buckets: BUCKETS.map(() => 0) };
    const s = reply.elapsedTime / 1000;
    e.count++;
    e.sum += s;
    BUCKETS.forEach((b, i) => {
      if (s <= b) e.buckets[i]!++;
    });
    latency.set(key, e);
  });
  app.get('/metrics', async (_req, reply) => {
    const m = await cp.metricsSnapshot();
    const lines: string[] = [];
    lines.push('# HELP nubis_hosts Hosts by state', '# TYPE nubis_hosts gauge');
    for (const [k, v] of Object.entries(m.hostsByState)) lines.push(`nubis_hosts{state="${k}"} ${v}`);
    lines.push('# HELP nubis_vms VMs by state', '# TYPE nubis_vms gauge');
    for (const [k, v] of Object.entries(m.vmsByState)) lines.push(`nubis_vms{state="${k}"} ${v}`);
    lines.push(
      '# HELP nubis_placement_decisions_total VMs placed',
      '# TYPE nubis_placement_decisions_total counter',
      `nubis_placement_decisions_total ${m.placements}`,
    );
    lines.push(
      '# HELP nubis_power_watts Estimated IT power of the data center',
      '# TYPE nubis_power_watts gauge',
      `nubis_power_watts ${m.powerW.toFixed(1)}`,
    );
    lines.push(
      '# HELP nubis_sql_statements_total SQL statements this process ran (transaction control included)',
      '# TYPE nubis_sql_statements_total counter',
      `nubis_sql_statements_total ${storeStats.statements}`,
      '# HELP nubis_sqlite_commits_total SQLite group commits (one fsync each)',
      '# TYPE nubis_sqlite_commits_total counter',
      `nubis_sqlite_commits_total ${storeStats.commits}`,
      '# HELP nubis_sqlite_transactions_total SQLite transactions and lone writes carried by the group commits',
      '# TYPE nubis_sqlite_transactions_total counter',
      `nubis_sqlite_transactions_total ${storeStats.transactions}`,
    );
    lines.push(
      '# HELP nubis_http_request_duration_seconds API latency',
      '# TYPE nubis_http_request_duration_seconds histogram',
    );
    for (const [key, e] of latency) {
      const [method, route, status] = key.split(' ');
      const l = `method="${method}",route="${route}",status="${status}"`;
      BUCKETS.forEach((b, i) =>
        lines.push(`nubis_http_request_duration_seconds_bucket{${l},le="${b}"} ${e.buckets[i]}`),
      );
      lines.push(
        `nubis_http_request_duration_seconds_bucket{${l},le="+Inf"} ${e.count}`,
        `nubis_http_request_duration_seconds_sum{${l}} ${e.sum}`,
        `nubis_http_request_duration_seconds_count{${l}} ${e.count}`,
      );
    }
    reply.header('content-type', 'text/plain; version=0.0.4');
    return lines.join('\n') + '\n';
  });
}
