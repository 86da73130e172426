import { useMemo, useState } from 'react';
import { summary, type Vm } from '../api.ts';
import { VirtualList } from '../components/VirtualList.tsx';
import { pct, sortBy } from '../format.ts';
import { usePoll } from '../poll.ts';
import { usePaged } from '../use-paged.ts';
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

/** VMs per page of the list (the API's `limit`). */
const PAGE = 500;
/** The fields a row shows (the API's `fields`: less to send than whole VMs). */
const FIELDS = 'name,state,flavor,hostId,hostName,cpu,createdAt,ha';

export function VmList() {
  const [f, setF] = useState({ text: '', state: '', ha: '' });
  const [sort, setSort] = useState<{ col: Col; dir: 1 | -1 }>({ col: 'name', dir: 1 });
  // The API filters by name prefix and state; HA and sorting apply to the rows read.
  const q = useMemo(() => ({ name: f.text.trim(), state: f.state, fields: FIELDS }), [f.text, f.state]);
  const vms = usePaged<Vm>('/v1/vms', q, PAGE, 4000);
  const counts = usePoll(() => summary({ hosts: false }), 5000);
  const rows = useMemo(
    () =>
      vms.done
        ? filterVms(vms.rows, f, sort)
        : f.ha
          ? vms.rows.filter((v) => (f.ha === 'ha') === v.ha)
          : vms.rows,
    [vms.rows, vms.done, f, sort],
  );
  const byState = counts.data?.vms.byState ?? {};
  const states = [...new Set([...Object.keys(byState), f.state].filter(Boolean))].sort();
  const total = f.state ? (byState[f.state] ?? 0) : counts.data?.vms.total;
  const shown = vms.done ? String(rows.length) : `${rows.length}+`;
  const error = vms.error ?? counts.error;
  return (
    <div>
      <h2>
        Virtual machines{' '}
        <span className="muted">
          {total !== undefined ? `${shown} of ${total}${f.text ? ` (name ${f.text}…)` : ''}` : ''}
        </span>{' '}
        <a className="button" href={href('create')}>
          Create VM
        </a>
      </h2>
      {error && <p className="error">{error}</p>}
      <div className="filters">
        <input
          placeholder="filter by name (its start)"
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
              className={`cell c-${c} sort${vms.done && sort.col === c ? ' on' : ''}`}
              disabled={!vms.done}
              title={
                vms.done ? `sort by ${label}` : 'oldest first; sorting needs every row: filter down first'
              }
              onClick={() => setSort({ col: c, dir: sort.col === c ? (-sort.dir as 1 | -1) : 1 })}
            >
              {label}
              {vms.done && sort.col === c ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
            </button>
          ))}
        </div>
        <VirtualList
          rows={rows}
          rowHeight={34}
          height={Math.min(640, Math.max(120, (rows.length + (vms.done ? 0 : 1)) * 34 + 4))}
          onView={vms.onView}
          footer={vms.done ? undefined : <span className="cell">loading more…</span>}
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
