import { useState } from 'react';
import { client, type Volume } from '../api.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';
import { attachable, volumesOf } from '../storage-model.ts';

/** The attached volumes as a table (pure markup, for tests); `onDetach` absent: read only. */
export function AttachedVolumes({
  volumes,
  busy,
  onDetach,
}: {
  volumes: readonly Volume[];
  busy?: boolean;
  onDetach?: (v: Volume) => void;
}) {
  if (volumes.length === 0) return <p className="muted">none</p>;
  return (
    <table className="grid" data-testid="vm-volumes">
      <tbody>
        {volumes.map((v) => (
          <tr key={v.id} data-volume={v.name}>
            <td>
              <a href={href('volumes', v.id)}>{v.name}</a>
            </td>
            <td>{v.sizeGiB} GiB</td>
            <td>{v.pool ?? '—'}</td>
            <td className={`st-${v.state}`}>{v.state}</td>
            <td>
              <code>virtio-{v.serial}</code>
            </td>
            <td>
              {onDetach && v.state === 'in-use' && (
                <button disabled={busy} onClick={() => onDetach(v)}>
                  detach
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A VM's volumes on its page: attached ones (detach), and attach one of the tenant's available volumes. */
export function VmVolumes({
  vmId,
  tenantId,
  canWrite,
}: {
  vmId: string;
  tenantId: string;
  canWrite: boolean;
}) {
  // The VM's own volumes come filtered by the API (GET /v1/volumes?vm=ID); the tenant's whole list is
  // read only for the attach picker, when the user may attach.
  const vols = usePoll(() => client.volumes.list({ vm: vmId }), 3000, [vmId]);
  const pickable = usePoll(() => (canWrite ? client.volumes.list() : Promise.resolve([])), 3000, [
    vmId,
    canWrite,
  ]);
  const [pick, setPick] = useState('');
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ ok: boolean; text: string }>();
  const mine = vols.data ?? [];
  const run = async (label: string, f: () => Promise<unknown>) => {
    setBusy(true);
    setMsg(undefined);
    try {
      await f();
      setMsg({ ok: true, text: `${label}: done` });
      setPick('');
    } catch (e) {
      setMsg({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
      vols.reload();
      pickable.reload();
    }
  };
  const free = attachable((pickable.data ?? []).filter((v) => v.tenantId === tenantId));
  return (
    <div className="card" data-testid="vm-volumes-card">
      <h3>Volumes</h3>
      {vols.error && <p className="error">{vols.error}</p>}
      <AttachedVolumes
        volumes={volumesOf(vmId, mine)}
        busy={busy}
        onDetach={
          canWrite ? (v) => void run(`detach ${v.name}`, () => client.volumes.detach(v.id)) : undefined
        }
      />
      {canWrite && (
        <div className="inline">
          <select value={pick} onChange={(e) => setPick(e.target.value)} aria-label="volume to attach">
            <option value="">attach a volume…</option>
            {free.map((v) => (
              <option key={v.id} value={v.id}>
                {v.name} ({v.sizeGiB} GiB, {v.pool})
              </option>
            ))}
          </select>
          <button
            disabled={busy || !pick}
            onClick={() => run('attach', () => client.volumes.attach(pick, vmId))}
          >
            attach
          </button>
        </div>
      )}
      {msg && (
        <p className={msg.ok ? 'ok' : 'error'} role="status">
          {msg.text}
        </p>
      )}
    </div>
  );
}
