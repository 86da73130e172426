/** Every rack and host as a tile coloured by CPU, with a memory bar, its power state and VM count. */
import type { Host } from '../api.ts';
import { HOST_STATES, loadColor, pct } from '../format.ts';
import { href } from '../router.ts';

/** Hosts grouped by data center and rack, racks and hosts in name order. */
export function byRack(hosts: readonly Host[]): { rack: string; hosts: Host[] }[] {
  const m = new Map<string, Host[]>();
  for (const h of hosts) {
    const k = `${h.datacenter} / ${h.rack}`;
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(h);
  }
  return [...m.entries()]
    .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
    .map(([rack, hs]) => ({
      rack,
      hosts: hs.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })),
    }));
}

export function HostTile({ h }: { h: Host }) {
  const on = h.state === 'up' || h.state === 'maintenance';
  const mem = h.capacity.memoryMiB > 0 ? h.used.memoryMiB / h.capacity.memoryMiB : 0;
  const title = `${h.name}: ${HOST_STATES[h.state] ?? h.state}, CPU ${pct(h.cpu)}, memory ${pct(mem)} allocated, ${h.vms} VM(s), ${Math.round(h.powerW)} W`;
  return (
    <a
      className={`tile state-${h.state}`}
      href={href('hosts', h.id)}
      title={title}
      data-host={h.name}
      data-state={h.state}
      style={on ? { background: loadColor(h.cpu) } : undefined}
    >
      <span className="tile-name">
        {h.state === 'failed' ? '✕ ' : ''}
        {h.name.replace(/^.*?(\d+)$/, '$1')}
      </span>
      <span className="tile-vms">{h.vms}</span>
      {on && <span className="tile-mem" style={{ width: `${Math.min(100, mem * 100)}%` }} />}
    </a>
  );
}

export function HostTiles({ hosts }: { hosts: readonly Host[] }) {
  return (
    <div className="racks">
      {byRack(hosts).map((r) => (
        <section key={r.rack} className="rack">
          <h3>{r.rack}</h3>
          <div className="tiles">
            {r.hosts.map((h) => (
              <HostTile key={h.id} h={h} />
            ))}
          </div>
        </section>
      ))}
    </div>
  );
}

export function Legend() {
  return (
    <div className="legend">
      <span>
        <i style={{ background: loadColor(0) }} />
        idle
      </span>
      <span>
        <i style={{ background: loadColor(0.5) }} />
        50 % CPU
      </span>
      <span>
        <i style={{ background: loadColor(1) }} />
        full
      </span>
      <span>
        <i className="state-off" />
        off
      </span>
      <span>
        <i className="state-booting" />
        switching on
      </span>
      <span>
        <i className="state-maintenance" />
        maintenance
      </span>
      <span>
        <i className="state-failed" />
        failed
      </span>
      <span className="muted">bar: memory allocated · number: VMs</span>
    </div>
  );
}
