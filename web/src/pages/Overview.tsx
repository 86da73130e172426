import { useMemo } from 'react';
import { client, summary } from '../api.ts';
import { HostTiles, Legend, tileHosts } from '../components/HostTiles.tsx';
import { kwh, pct, watts } from '../format.ts';
import { usePoll } from '../poll.ts';

export function Overview() {
  // Power, energy and SLA figures (they read every VM's load: polled slowly); the tiles and the
  // counts from the summary, one compact answer for every host.
  const o = usePoll(() => client.meta.overview(), 10_000);
  const s = usePoll(() => summary(), 2000);
  const hosts = useMemo(() => s.data?.hosts && tileHosts(s.data.hosts.columns), [s.data]);
  const d = o.data && s.data ? { ...o.data, vms: s.data.vms, hosts: s.data.hosts ?? o.data.hosts } : o.data;
  const on = (d?.hosts?.byState.up ?? 0) + (d?.hosts?.byState.maintenance ?? 0);
  return (
    <div>
      <h2>Data center</h2>
      {(o.error || s.error) && <p className="error">{o.error ?? s.error}</p>}
      <div className="stats">
        <Stat
          label="hosts on"
          value={d?.hosts ? `${on} / ${d.hosts.total}` : '…'}
          sub={
            d?.hosts
              ? `${d.hosts.byState.off ?? 0} off · ${d.hosts.byState.failed ?? 0} failed · ${d.hosts.byState.maintenance ?? 0} maintenance`
              : ''
          }
        />
        <Stat
          label="VMs"
          value={d ? String(d.vms.total) : '…'}
          sub={
            d
              ? Object.entries(d.vms.byState)
                  .map(([k, v]) => `${v} ${k}`)
                  .join(' · ')
              : ''
          }
        />
        <Stat
          label="power now"
          value={d?.powerW !== undefined ? watts(d.powerW) : '…'}
          sub="IT load, from the power models"
        />
        <Stat
          label="energy today"
          value={d ? `${kwh(d.facilityEnergyTodayKWh)} kWh` : '…'}
          sub={d ? `${kwh(d.energyTodayKWh)} kWh IT × PUE ${d.pue}` : ''}
        />
        <Stat
          label="SLA violation now"
          value={d?.slaViolation !== undefined ? pct(d.slaViolation, 1) : '…'}
          sub={
            d?.overloadedHosts !== undefined
              ? `${d.overloadedHosts} host(s) asked for more CPU than they have`
              : ''
          }
          warn={!!d?.overloadedHosts}
        />
      </div>
      <Legend />
      {hosts ? <HostTiles hosts={hosts} /> : <p className="muted">loading hosts…</p>}
    </div>
  );
}

export function Stat({
  label,
  value,
  sub,
  warn,
}: {
  label: string;
  value: string;
  sub?: string;
  warn?: boolean;
}) {
  return (
    <div className={`stat card${warn ? ' warn' : ''}`} data-stat={label}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub && <div className="stat-sub">{sub}</div>}
    </div>
  );
}
