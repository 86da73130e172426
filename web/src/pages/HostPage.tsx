import { client, type EventRow } from '../api.ts';
import { Plot } from '../components/Plot.tsx';
import { HOST_STATES, mib, pct, time, watts } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';
import { Stat } from './Overview.tsx';

export function HostPage({ id }: { id: string }) {
  const h = usePoll(() => client.hosts.get(id), 3000, [id]);
  const vms = usePoll(() => client.vms.list({ host: id }), 3000, [id]);
  const ev = usePoll(() => client.events.list({ host: id, limit: 50 }), 5000, [id]);
  if (h.error) return <p className="error">{h.error}</p>;
  const host = h.data;
  if (!host) return <p className="muted">loading…</p>;
  const s = host.cpuSeries ?? [];
  return (
    <div>
      <h2>
        Host {host.name}{' '}
        <span className={`badge state-${host.state}`}>{HOST_STATES[host.state] ?? host.state}</span>
      </h2>
      <div className="stats">
        <Stat
          label="CPU now"
          value={pct(host.cpu)}
          sub={`${host.capacity.vcpus} cores, vCPU overcommit ${host.overcommit.cpu}×`}
        />
        <Stat label="power draw" value={watts(host.powerW)} />
        <Stat
          label="vCPUs allocated"
          value={`${host.used.vcpus} / ${host.capacity.vcpus * host.overcommit.cpu}`}
        />
        <Stat
          label="memory allocated"
          value={`${mib(host.used.memoryMiB)} / ${mib(host.capacity.memoryMiB)}`}
        />
        <Stat label="VMs" value={String(host.vms)} sub={`${host.zone} · ${host.rack} · ${host.driver}`} />
      </div>
      <div className="card">
        <Plot
          title="CPU utilization"
          x={s.map((p) => p.t)}
          series={[{ label: 'CPU %', values: s.map((p) => p.cpu * 100) }]}
          yLabel="%"
          yMax={100}
        />
      </div>
      <div className="cols">
        <div className="card">
          <h3>VMs</h3>
          <table className="grid">
            <thead>
              <tr>
                <th>name</th>
                <th>state</th>
                <th>flavor</th>
                <th>CPU</th>
              </tr>
            </thead>
            <tbody>
              {(vms.data ?? []).map((v) => (
                <tr key={v.id}>
                  <td>
                    <a href={href('vms', v.id)}>{v.name}</a>
                  </td>
                  <td>{v.state}</td>
                  <td>{v.flavor}</td>
                  <td>{pct(v.cpu)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="card">
          <h3>Events</h3>
          <Events rows={ev.data ?? []} />
        </div>
      </div>
    </div>
  );
}

export function Events({ rows }: { rows: EventRow[] }) {
  return (
    <table className="grid events">
      <thead>
        <tr>
          <th>at</th>
          <th>event</th>
          <th>by</th>
          <th>detail</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((e) => (
          <tr key={e.id}>
            <td className="nowrap">{time(e.at)}</td>
            <td>{e.kind}</td>
            <td>{e.actor}</td>
            <td className="detail">{summarizeDetail(e.detail)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function summarizeDetail(d: Record<string, unknown>): string {
  return Object.entries(d ?? {})
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(' · ');
}
