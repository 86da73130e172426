import { useMemo, useState } from 'react';
import { client, summary, type Me, type Volume } from '../api.ts';
import { usePoll } from '../poll.ts';
import { go, href } from '../router.ts';
import { volumeCreateBody, type VolumeSource } from '../storage-model.ts';

/** The volume table (pure markup, for tests); operators also see each local volume's host. */
export function VolumeTable({
  volumes,
  showHost,
  hostNames = {},
}: {
  volumes: readonly Volume[];
  showHost?: boolean;
  /** Host names by id (operators). */
  hostNames?: Record<string, string>;
}) {
  if (volumes.length === 0) return <p className="muted">no volumes</p>;
  return (
    <table className="grid" data-testid="volume-table">
      <thead>
        <tr>
          <th>name</th>
          <th>size</th>
          <th>pool</th>
          <th>state</th>
          <th>attached to</th>
          {showHost && <th>host</th>}
        </tr>
      </thead>
      <tbody>
        {volumes.map((v) => (
          <tr key={v.id} data-volume={v.name}>
            <td>
              <a href={href('volumes', v.id)}>{v.name}</a>
            </td>
            <td>{v.sizeGiB} GiB</td>
            <td>
              {v.pool ?? '—'}
              {v.poolKind ? <span className="muted"> ({v.poolKind})</span> : null}
            </td>
            <td className={`st-${v.state}`}>{v.state}</td>
            <td>{v.vmId ? <a href={href('vms', v.vmId)}>{v.vm ?? v.vmId}</a> : '—'}</td>
            {showHost && <td>{v.hostId ? (hostNames[v.hostId] ?? v.hostId) : '—'}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The create form: size, pool, and an optional source (an image, a volume or one of its snapshots). */
function CreateVolume({
  volumes,
  onCreated,
}: {
  volumes: readonly Volume[];
  onCreated: (v: Volume) => void;
}) {
  const pools = usePoll(() => client.storagePools.list(), 30_000);
  const images = usePoll(() => client.images.list(), 30_000);
  const [f, setF] = useState({ name: '', sizeGiB: '1', pool: '', source: 'empty' as VolumeSource, from: '' });
  const [snapOf, setSnapOf] = useState('');
  const snaps = usePoll(() => (snapOf ? client.volumes.snapshots(snapOf) : Promise.resolve([])), 30_000, [
    snapOf,
  ]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onCreated(await client.volumes.create(volumeCreateBody(f)));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const uploaded = (images.data ?? []).filter((i) => i.sha256);
  return (
    <form className="card form" onSubmit={submit} data-testid="volume-create">
      <h3>Create a volume</h3>
      <label>
        name
        <input
          name="volumeName"
          required
          pattern="[A-Za-z0-9][A-Za-z0-9._-]*"
          value={f.name}
          onChange={(e) => setF({ ...f, name: e.target.value })}
        />
      </label>
      <label>
        size (GiB)
        <input
          name="sizeGiB"
          type="number"
          min={1}
          required
          value={f.sizeGiB}
          onChange={(e) => setF({ ...f, sizeGiB: e.target.value })}
        />
      </label>
      <label>
        pool
        <select name="pool" value={f.pool} onChange={(e) => setF({ ...f, pool: e.target.value })}>
          <option value="">default</option>
          {(pools.data ?? []).map((p) => (
            <option key={p.id} value={p.name}>
              {p.name} ({p.kind}
              {p.zone ? `, ${p.zone}` : ''})
            </option>
          ))}
        </select>
      </label>
      <label>
        from
        <select
          name="source"
          value={f.source}
          onChange={(e) => setF({ ...f, source: e.target.value as VolumeSource, from: '' })}
        >
          <option value="empty">empty</option>
          <option value="image">an image</option>
          <option value="volume">a volume (clone)</option>
          <option value="snapshot">a snapshot</option>
        </select>
      </label>
      {f.source === 'image' && (
        <label>
          image
          <select
            name="fromImage"
            required
            value={f.from}
            onChange={(e) => setF({ ...f, from: e.target.value })}
          >
            <option value="">choose…</option>
            {uploaded.map((i) => (
              <option key={i.id} value={i.name}>
                {i.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {(f.source === 'volume' || f.source === 'snapshot') && (
        <label>
          volume
          <select
            name="fromVolume"
            required
            value={f.source === 'volume' ? f.from : snapOf}
            onChange={(e) =>
              f.source === 'volume' ? setF({ ...f, from: e.target.value }) : setSnapOf(e.target.value)
            }
          >
            <option value="">choose…</option>
            {volumes.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name} ({v.sizeGiB} GiB)
              </option>
            ))}
          </select>
        </label>
      )}
      {f.source === 'snapshot' && (
        <label>
          snapshot
          <select
            name="fromSnapshot"
            required
            value={f.from}
            onChange={(e) => setF({ ...f, from: e.target.value })}
          >
            <option value="">choose…</option>
            {(snaps.data ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
      )}
      <div>
        <button type="submit" disabled={busy}>
          Create volume
        </button>
        {busy && <span className="muted"> creating…</span>}
      </div>
      {error && (
        <p className="error" role="status">
          {error}
        </p>
      )}
    </form>
  );
}

export function Volumes({ me }: { me: Me }) {
  const volumes = usePoll(() => client.volumes.list(), 3000);
  const writer = me.role === 'admin' || me.role === 'member';
  const ops = me.role === 'admin' || me.role === 'operator';
  // Host names from the summary's columns (one compact answer, not every host's record).
  const hosts = usePoll(() => (ops ? summary() : Promise.resolve(undefined)), 30_000);
  const hostNames = useMemo(() => {
    const c = hosts.data?.hosts?.columns;
    return c ? Object.fromEntries(c.id.map((id, i) => [id, c.name[i]!])) : {};
  }, [hosts.data]);
  return (
    <div>
      <h2>
        Volumes <span className="muted">{volumes.data ? volumes.data.length : ''}</span>
      </h2>
      <div className={writer ? 'cols' : ''}>
        <div className="card">
          {volumes.error && <p className="error">{volumes.error}</p>}
          <VolumeTable volumes={volumes.data ?? []} showHost={ops} hostNames={hostNames} />
        </div>
        {writer && <CreateVolume volumes={volumes.data ?? []} onCreated={(v) => go('volumes', v.id)} />}
      </div>
    </div>
  );
}
