import { useEffect, useMemo, useState } from 'react';
import { client, summary } from '../api.ts';
import { HostTiles, Legend, tileHosts } from '../components/HostTiles.tsx';
import { kwh, pct, watts } from '../format.ts';
import { usePoll } from '../poll.ts';

export function Overview() {
  // The tiles and counts from the summary, one compact answer for every host (every 2 s, 5 s beyond
  // 2,000 hosts); power, energy and SLA every 10 s.
  const [every, setEvery] = useState(2000);
  const s = usePoll(() => summary(), every, []);
  const big = (s.data?.hosts?.total ?? 0) > 2000;
  useEffect(() => setEvery(big ? 5000 : 2000), [big]);
  // The overview reads every VM's load (a second at 100,000 VMs): first asked 1.5 s after the tiles.
  const [later, setLater] = useState(false);
  const loaded = !!s.data;
  useEffect(() => {
    if (!loaded) return;
    const t = setTimeout(() => setLater(true), 1500);
    return () => clearTimeout(t);
  }, [loaded]);
  const o = usePoll(() => (later ? client.meta.overview() : Promise.resolve(undefined)), 10_000, [later]);
  const hosts = useMemo(() => s.data?.hosts && tileHosts(s.data.hosts.columns), [s.data]);
  const d = o.data;
  // Host and VM counts from the summary.
  const hs = s.data?.hosts ?? d?.hosts;
  const vs = s.data?.vms ?? d?.vms;
  const on = (hs?.byState.up ?? 0) + (hs?.byState.maintenance ?? 0);
  return (
    <div>
      <h2>Data center</h2>
      {(o.error || s.error) && <p className="error">{o.error ?? s.error}</p>}
      <div className="stats">
        <Stat
          label="hosts on"
          value={hs ? `${on} / ${hs.total}` : '…'}
          sub={
            hs
              ? `${hs.byState.off ?? 0} off · ${hs.byState.failed ?? 0} failed · ${hs.byState.maintenance ?? 0} maintenance`
              : ''
          }
        />
        <Stat
          label="VMs"
          value={vs ? String(vs.total) : '…'}
          sub={
            vs
              ? Object.entries(vs.byState)
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
