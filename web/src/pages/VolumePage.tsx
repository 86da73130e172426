import { useState } from 'react';
import { client, session, type Me, type Vm } from '../api.ts';
import { fetchPage } from '../paging.ts';
import { time } from '../format.ts';
import { usePoll } from '../poll.ts';
import { go, href } from '../router.ts';
import { volumeActions } from '../storage-model.ts';

/** One volume: its facts, attach/detach, snapshots (take, list, delete) and delete. */
export function VolumePage({ id, me }: { id: string; me: Me }) {
  const vol = usePoll(() => client.volumes.get(id), 2000, [id]);
  const snaps = usePoll(() => client.volumes.snapshots(id), 4000, [id]);
  const writer = me.role === 'admin' || me.role === 'member';
  // The VMs it could attach to: the first 1,000 of the volume's tenant (never the whole list).
  const tenant = vol.data?.tenantId;
  const vms = usePoll(
    () =>
      writer && tenant
        ? fetchPage<Pick<Vm, 'id' | 'name' | 'tenantId' | 'state'>>(
            { token: () => session.token },
            '/v1/vms',
            {
              tenant: me.role === 'admin' ? tenant : undefined,
              fields: 'name,tenantId,state',
              limit: 1000,
            },
          ).then((p) => p.rows)
        : Promise.resolve([]),
    10_000,
    [tenant],
  );
  const [vm, setVm] = useState('');
  const [snap, setSnap] = useState('');
  const [busy, setBusy] = useState<string>();
  const [msg, setMsg] = useState<{ ok: boolean; text: string }>();
  if (vol.error) return <p className="error">{vol.error}</p>;
  const v = vol.data;
  if (!v) return <p className="muted">loading…</p>;
  const run = async (label: string, f: () => Promise<unknown>) => {
    setBusy(label);
    setMsg(undefined);
    try {
      await f();
      setMsg({ ok: true, text: `${label}: done` });
      vol.reload();
      snaps.reload();
    } catch (e) {
      setMsg({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(undefined);
    }
  };
  const can = writer ? volumeActions(v) : [];
  const candidates = (vms.data ?? []).filter((x) => x.tenantId === v.tenantId && x.state !== 'deleted');
  return (
    <div>
      <h2>
        Volume {v.name}{' '}
        <span className={`badge st-${v.state}`} data-testid="volume-state">
          {v.state}
        </span>
      </h2>
      <div className="card facts">
        <div>
          <b>size</b> {v.sizeGiB} GiB
        </div>
        <div>
          <b>pool</b> {v.pool ?? '—'} {v.poolKind && <span className="muted">({v.poolKind})</span>}
        </div>
        <div>
          <b>attached to</b>{' '}
          {v.vmId ? (
            <a href={href('vms', v.vmId)} data-testid="volume-vm">
              {v.vm ?? v.vmId}
            </a>
          ) : (
            '—'
          )}
        </div>
        {v.hostId !== undefined && (
          <div>
            <b>host</b> {v.hostId ?? '—'}
          </div>
        )}
        <div>
          <b>guest device</b> <code>/dev/disk/by-id/virtio-{v.serial}</code>
        </div>
        <div>
          <b>created</b> {time(v.createdAt)}
        </div>
        <div>
          <b>id</b> <code>{v.id}</code>
        </div>
      </div>
      {writer && (
        <div className="card actions">
          {can.includes('attach') && (
            <span className="inline">
              <select value={vm} onChange={(e) => setVm(e.target.value)} aria-label="VM to attach to">
                <option value="">attach to VM…</option>
                {candidates.map((x) => (
                  <option key={x.id} value={x.id}>
                    {x.name} ({x.state})
                  </option>
                ))}
              </select>
              <button
                disabled={!!busy || !vm}
                onClick={() => run('attach', () => client.volumes.attach(v.id, vm))}
              >
                attach
              </button>
            </span>
          )}
          {can.includes('detach') && (
            <button disabled={!!busy} onClick={() => run('detach', () => client.volumes.detach(v.id))}>
              detach
            </button>
          )}
          <span className="inline">
            <input
              placeholder="snapshot name"
              value={snap}
              onChange={(e) => setSnap(e.target.value)}
              aria-label="snapshot name"
            />
            <button
              disabled={!!busy || !snap.trim()}
              onClick={() =>
                run('snapshot', () => client.volumes.snapshot(v.id, snap.trim())).then(() => setSnap(''))
              }
            >
              snapshot
            </button>
          </span>
          {can.includes('delete') && (
            <button
              className="danger"
              disabled={!!busy}
              onClick={() => {
                if (window.confirm(`Delete volume ${v.name} and its snapshots?`))
                  void run('delete', () => client.volumes.delete(v.id)).then(() => go('volumes'));
              }}
            >
              delete
            </button>
          )}
          {busy && <span className="muted">{busy}…</span>}
          {msg && (
            <span className={msg.ok ? 'ok' : 'error'} role="status">
              {msg.text}
            </span>
          )}
        </div>
      )}
      <div className="card">
        <h3>Snapshots</h3>
        {snaps.error && <p className="error">{snaps.error}</p>}
        {(snaps.data ?? []).length === 0 ? (
          <p className="muted">none</p>
        ) : (
          <table className="grid" data-testid="volume-snapshots">
            <thead>
              <tr>
                <th>name</th>
                <th>size</th>
                <th>taken</th>
                <th>id</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {(snaps.data ?? []).map((s) => (
                <tr key={s.id} data-snapshot={s.name}>
                  <td>{s.name}</td>
                  <td>{s.sizeGiB} GiB</td>
                  <td className="nowrap">{time(s.createdAt)}</td>
                  <td>
                    <code>{s.id}</code>
                  </td>
                  <td>
                    {writer && (
                      <button
                        className="danger"
                        disabled={!!busy}
                        onClick={() =>
                          run(`delete snapshot ${s.name}`, () => client.volumes.deleteSnapshot(s.id))
                        }
                      >
                        delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </div>
  );
}
