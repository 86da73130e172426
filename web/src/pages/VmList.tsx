import { useMemo, useState } from 'react';
import { client, type Vm } from '../api.ts';
import { VirtualList } from '../components/VirtualList.tsx';
import { pct, sortBy } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

type Col = 'name' | 'state' | 'flavor' | 'hostName' | 'cpu' | 'createdAt';
const COLS: [Col, string][] = [
  ['name', 'name'],
  ['state', 'state'],
  ['flavor', 'flavor'],
  ['hostName', 'host'],
  ['cpu', 'CPU'],
  ['createdAt', 'created'],
];

/** Filter by text (name, host, flavor), state and HA; sort by any column. Pure, for tests. */
export function filterVms(
  vms: readonly Vm[],
  f: { text: string; state: string; ha: string },
  sort: { col: Col; dir: 1 | -1 },
): Vm[] {
  const t = f.text.trim().toLowerCase();
  const rows = vms.filter(
    (v) =>
      (!t ||
        v.name.toLowerCase().includes(t) ||
        (v.hostName ?? '').toLowerCase().includes(t) ||
        v.flavor.toLowerCase().includes(t)) &&
      (!f.state || v.state === f.state) &&
      (!f.ha || (f.ha === 'ha') === v.ha),
  );
  return sortBy(rows, (v) => (sort.col === 'cpu' ? v.cpu : (v[sort.col] as string | null)), sort.dir);
}

export function VmList() {
  const vms = usePoll(() => client.vms.list(), 4000);
  const [f, setF] = useState({ text: '', state: '', ha: '' });
  const [sort, setSort] = useState<{ col: Col; dir: 1 | -1 }>({ col: 'name', dir: 1 });
  const rows = useMemo(() => filterVms(vms.data ?? [], f, sort), [vms.data, f, sort]);
  const states = [...new Set((vms.data ?? []).map((v) => v.state))].sort();
  return (
    <div>
      <h2>
        Virtual machines{' '}
        <span className="muted">{vms.data ? `${rows.length} of ${vms.data.length}` : ''}</span>{' '}
        <a className="button" href={href('create')}>
          Create VM
        </a>
      </h2>
      {vms.error && <p className="error">{vms.error}</p>}
      <div className="filters">
        <input
          placeholder="filter by name, host or flavor"
          value={f.text}
          onChange={(e) => setF({ ...f, text: e.target.value })}
          aria-label="filter"
        />
        <select value={f.state} onChange={(e) => setF({ ...f, state: e.target.value })} aria-label="state">
          <option value="">any state</option>
          {states.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select value={f.ha} onChange={(e) => setF({ ...f, ha: e.target.value })} aria-label="ha">
          <option value="">HA or not</option>
          <option value="ha">HA only</option>
          <option value="no">without HA</option>
        </select>
      </div>
      <div className="vm-table">
        <div className="vrow head">
          {COLS.map(([c, label]) => (
            <button
              key={c}
              className={`cell c-${c} sort${sort.col === c ? ' on' : ''}`}
              onClick={() => setSort({ col: c, dir: sort.col === c ? (-sort.dir as 1 | -1) : 1 })}
            >
              {label}
              {sort.col === c ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
            </button>
          ))}
        </div>
        <VirtualList
          rows={rows}
          rowHeight={34}
          height={Math.min(640, Math.max(120, rows.length * 34 + 4))}
          render={(v) => (
            <div className="vm-row" data-vm={v.name}>
              <a className="cell c-name" href={href('vms', v.id)}>
                {v.name}
                {v.ha && <span className="badge ha">HA</span>}
              </a>
              <span className={`cell c-state st-${v.state}`}>{v.state}</span>
              <span className="cell c-flavor">{v.flavor}</span>
              <span className="cell c-hostName">
                {v.hostId ? <a href={href('hosts', v.hostId)}>{v.hostName}</a> : '—'}
              </span>
              <span className="cell c-cpu">{pct(v.cpu)}</span>
              <span className="cell c-createdAt">{v.createdAt.slice(0, 16).replace('T', ' ')}</span>
            </div>
          )}
        />
      </div>
    </div>
  );
}
