/**
 * Every rack and host as a tile coloured by CPU, with a memory bar, its power state and VM count.
 * Drawn from the summary's columns (one answer for 10,000 hosts), 25 racks per frame (the page stays
 * responsive while 10,000 tiles appear); a rack re-renders only when one of its hosts changed, and
 * racks out of view are neither laid out nor painted (CSS content-visibility).
 */
import { memo, useEffect, useMemo, useState } from 'react';
import type { HostColumns, Host } from '../api.ts';
import { HOST_STATES, loadColor, pct } from '../format.ts';
import { href } from '../router.ts';

/** What a tile shows of a host. */
export interface TileHost {
  id: string;
  name: string;
  state: string;
  /** "datacenter / rack". */
  rack: string;
  cpu: number;
  powerW: number;
  vms: number;
  memoryUsed: number;
  memoryCapacity: number;
}

/** The tiles of the summary's host columns, in their (name) order. */
export function tileHosts(c: HostColumns): TileHost[] {
  return c.id.map((id, i) => ({
    id,
    name: c.name[i]!,
    state: c.state[i]!,
    rack: c.racks[c.rack[i]!]!,
    cpu: c.cpu[i]!,
    powerW: c.powerW[i]!,
    vms: c.vms[i]!,
    memoryUsed: c.used.memoryMiB[i]!,
    memoryCapacity: c.capacity.memoryMiB[i]!,
  }));
}

/** A tile of a host as /v1/hosts gives it. */
export function fromHost(h: Host): TileHost {
  return {
    id: h.id,
    name: h.name,
    state: h.state,
    rack: `${h.datacenter} / ${h.rack}`,
    cpu: h.cpu,
    powerW: h.powerW,
    vms: h.vms,
    memoryUsed: h.used.memoryMiB,
    memoryCapacity: h.capacity.memoryMiB,
  };
}

/** Hosts grouped by data center and rack, racks and hosts in name order. */
export function byRack(hosts: readonly TileHost[]): { rack: string; hosts: TileHost[] }[] {
  const m = new Map<string, TileHost[]>();
  for (const h of hosts) {
    let l = m.get(h.rack);
    if (!l) m.set(h.rack, (l = []));
    l.push(h);
  }
  const cmp = new Intl.Collator(undefined, { numeric: true }).compare;
  return [...m.entries()]
    .sort(([a], [b]) => cmp(a, b))
    .map(([rack, hs]) => ({ rack, hosts: hs.sort((a, b) => cmp(a.name, b.name)) }));
}

export function HostTile({ h }: { h: TileHost }) {
  const on = h.state === 'up' || h.state === 'maintenance';
  const mem = h.memoryCapacity > 0 ? h.memoryUsed / h.memoryCapacity : 0;
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

/** What a rack's tiles show, as one string: the rack re-renders only when it changes. */
const rackKey = (hosts: readonly TileHost[]) =>
  hosts.map((h) => `${h.id}|${h.name}|${h.state}|${h.cpu}|${h.powerW}|${h.vms}|${h.memoryUsed}`).join(';');

const Rack = memo(
  function Rack({ rack, hosts }: { rack: string; hosts: TileHost[]; sig: string }) {
    return (
      <section className="rack">
        <h3>{rack}</h3>
        <div className="tiles">
          {hosts.map((h) => (
            <HostTile key={h.id} h={h} />
          ))}
        </div>
      </section>
    );
  },
  (a, b) => a.rack === b.rack && a.sig === b.sig,
);

/** Racks drawn in the first render, then this many more per frame (no long task at 10,000 hosts). */
const RACKS_PER_FRAME = 25;

export function HostTiles({ hosts }: { hosts: readonly TileHost[] }) {
  const racks = useMemo(() => byRack(hosts), [hosts]);
  const [shown, setShown] = useState(RACKS_PER_FRAME);
  useEffect(() => {
    if (shown >= racks.length) return;
    const f = requestAnimationFrame(() => setShown((n) => n + RACKS_PER_FRAME));
    return () => cancelAnimationFrame(f);
  }, [shown, racks.length]);
  return (
    <div className="racks">
      {racks.slice(0, shown).map((r) => (
        <Rack key={r.rack} rack={r.rack} hosts={r.hosts} sig={rackKey(r.hosts)} />
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
