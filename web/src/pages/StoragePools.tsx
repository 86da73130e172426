import { useState } from 'react';
import { client, type Host, type Me, type StoragePool } from '../api.ts';
import { usePoll } from '../poll.ts';
import { hostsSeeing } from '../storage-model.ts';

/** The pool table (pure markup, for tests): kind, zone and the hosts that see each pool (`hosts` still loading: …). */
export function PoolTable({ pools, hosts }: { pools: readonly StoragePool[]; hosts?: readonly Host[] }) {
  if (pools.length === 0)
    return <p className="muted">no storage pools (the first volume creates a local one)</p>;
  return (
    <table className="grid" data-testid="pool-table">
      <thead>
        <tr>
          <th>name</th>
          <th>kind</th>
          <th>zone</th>
          <th>hosts that see it</th>
        </tr>
      </thead>
      <tbody>
        {pools.map((p) => {
          const seen = hosts ? hostsSeeing(p, hosts) : undefined;
          return (
            <tr key={p.id} data-pool={p.name}>
              <td>{p.name}</td>
              <td>{p.kind}</td>
              <td>{p.zone ?? 'every zone'}</td>
              <td>
                {!seen ? (
                  <span className="muted">…</span>
                ) : seen.length ? (
                  seen.join(', ')
                ) : (
                  <span className="error">none</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Storage pools (operators and admins; admins create them). */
export function StoragePools({ me }: { me: Me }) {
  const pools = usePoll(() => client.storagePools.list(), 10_000);
  // Every host's pools (all pages at 10,000 hosts): they change rarely, read every minute.
  const hosts = usePoll(() => client.hosts.list(), 60_000);
  const [f, setF] = useState({ name: '', kind: 'shared' as 'local' | 'shared', zone: '' });
  const [msg, setMsg] = useState<{ ok: boolean; text: string }>();
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setMsg(undefined);
    try {
      const p = await client.storagePools.create({
        name: f.name.trim(),
        kind: f.kind,
        ...(f.zone.trim() ? { zone: f.zone.trim() } : {}),
      });
      setMsg({ ok: true, text: `Created pool ${p.name}` });
      setF({ ...f, name: '' });
      pools.reload();
    } catch (err) {
      setMsg({ ok: false, text: (err as Error).message });
    }
  };
  return (
    <div>
      <h2>Storage pools</h2>
      <div className={me.role === 'admin' ? 'cols' : ''}>
        <div className="card">
          {(pools.error ?? hosts.error) && <p className="error">{pools.error ?? hosts.error}</p>}
          <PoolTable pools={pools.data ?? []} hosts={hosts.data} />
          <p className="muted small">
            Real hosts see the pools they are given (<code>nubis host update HOST --pool NAME</code>);
            simulated hosts see every pool of their zone.
          </p>
        </div>
        {me.role === 'admin' && (
          <form className="card form" onSubmit={create} data-testid="pool-create">
            <h3>Create a pool</h3>
            <label>
              name
              <input
                name="poolName"
                required
                pattern="[A-Za-z0-9][A-Za-z0-9_.-]*"
                value={f.name}
                onChange={(e) => setF({ ...f, name: e.target.value })}
              />
            </label>
            <label>
              kind
              <select
                name="kind"
                value={f.kind}
                onChange={(e) => setF({ ...f, kind: e.target.value as 'local' | 'shared' })}
              >
                <option value="shared">shared (a NAS or SAN every host of its zone sees)</option>
                <option value="local">local (a folder on each host)</option>
              </select>
            </label>
            <label>
              zone
              <input
                name="zone"
                placeholder="every zone"
                value={f.zone}
                onChange={(e) => setF({ ...f, zone: e.target.value })}
              />
            </label>
            <div>
              <button type="submit">Create pool</button>
            </div>
            {msg && (
              <p className={msg.ok ? 'ok' : 'error'} role="status">
                {msg.text}
              </p>
            )}
          </form>
        )}
      </div>
    </div>
  );
}
