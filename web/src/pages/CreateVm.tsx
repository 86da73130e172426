import { useState } from 'react';
import { ApiError, client, type Me } from '../api.ts';
import { attachable } from '../storage-model.ts';
import { usePoll } from '../poll.ts';
import { go } from '../router.ts';

export interface Decision {
  hostId: string | null;
  /** Members are not told the host: whether one would take the VM. */
  fits?: boolean;
  explanation: string;
  ranked?: { hostId: string; hostName: string; score: number }[];
  rejected?: { hostId: string; hostName: string; filter: string; reason: string }[];
}

/** Rejections as rows, one per host and filter, hosts in name order. */
export function rejectionRows(d: Decision): { host: string; filter: string; reason: string }[] {
  return (d.rejected ?? [])
    .map((r) => ({ host: r.hostName, filter: r.filter, reason: r.reason }))
    .sort((a, b) => a.host.localeCompare(b.host, undefined, { numeric: true }));
}

/** The chosen host's name. */
export const chosen = (d: Decision) => d.ranked?.find((r) => r.hostId === d.hostId)?.hostName ?? d.hostId;

export function CreateVm({ me }: { me: Me }) {
  const flavors = usePoll(() => client.flavors.list(), 60_000);
  const vols = usePoll(() => client.volumes.list(), 10_000);
  const [volumes, setVolumes] = useState<string[]>([]);
  const free = attachable((vols.data ?? []).filter((v) => v.tenantId === me.tenantId));
  const images = usePoll(() => client.images.list(), 60_000);
  const groups = usePoll(() => client.serverGroups.list(), 60_000);
  const [f, setF] = useState({ name: '', flavor: '', image: '', serverGroup: '', ha: false });
  const [preview, setPreview] = useState<Decision>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const body = () => ({
    name: f.name.trim(),
    flavor: f.flavor || flavors.data?.[0]?.name || '',
    image: f.image || images.data?.[0]?.name || '',
    ...(f.serverGroup ? { serverGroup: f.serverGroup } : {}),
    ...(f.ha ? { ha: true } : {}),
    ...(volumes.length ? { volumes } : {}),
  });
  const where = async () => {
    setError(undefined);
    try {
      setPreview(await client.vms.dryRun({ ...body(), name: body().name || 'preview' }));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const op = await client.vms.create(body());
      if (op.status === 'failed') setError(op.error ?? 'create failed');
      else go('vms', op.vmId!);
    } catch (err) {
      setError((err as Error).message);
      if (err instanceof ApiError && err.code === 'NO_HOST_FITS')
        setPreview({ hostId: null, explanation: err.message, ...err.details } as Decision);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div>
      <h2>Create a VM</h2>
      <form className="card form" onSubmit={create}>
        <label>
          name
          <input
            name="name"
            required
            pattern="[A-Za-z0-9][A-Za-z0-9._-]*"
            value={f.name}
            onChange={(e) => setF({ ...f, name: e.target.value })}
          />
        </label>
        <label>
          flavor
          <select
            name="flavor"
            value={f.flavor}
            onChange={(e) => {
              setF({ ...f, flavor: e.target.value });
              setPreview(undefined);
            }}
          >
            {(flavors.data ?? []).map((x) => (
              <option key={x.id} value={x.name}>
                {x.name}: {x.vcpus} vCPU, {x.memoryMiB} MiB, {x.diskGiB} GiB
              </option>
            ))}
          </select>
        </label>
        <label>
          image
          <select name="image" value={f.image} onChange={(e) => setF({ ...f, image: e.target.value })}>
            {(images.data ?? []).map((x) => (
              <option key={x.id} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          server group
          <select
            name="serverGroup"
            value={f.serverGroup}
            onChange={(e) => {
              setF({ ...f, serverGroup: e.target.value });
              setPreview(undefined);
            }}
          >
            <option value="">none</option>
            {(groups.data ?? []).map((g) => (
              <option key={g.id} value={g.name}>
                {g.name} ({g.policy})
              </option>
            ))}
          </select>
        </label>
        {free.length > 0 && (
          <fieldset className="volumes" data-testid="create-volumes">
            <legend>volumes to attach</legend>
            {free.map((v) => (
              <label key={v.id} className="check">
                <input
                  type="checkbox"
                  name="volume"
                  value={v.name}
                  checked={volumes.includes(v.id)}
                  onChange={(e) =>
                    setVolumes(e.target.checked ? [...volumes, v.id] : volumes.filter((x) => x !== v.id))
                  }
                />{' '}
                {v.name} ({v.sizeGiB} GiB, {v.pool})
              </label>
            ))}
          </fieldset>
        )}
        <label className="check">
          <input
            type="checkbox"
            name="ha"
            checked={f.ha}
            onChange={(e) => setF({ ...f, ha: e.target.checked })}
          />{' '}
          restart elsewhere if its host fails (HA)
        </label>
        <div className="buttons">
          <button type="button" onClick={where}>
            Where would it go?
          </button>
          <button type="submit" disabled={busy || !f.name.trim()}>
            Create
          </button>
        </div>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </form>
      {preview && (
        <div className="card preview" data-testid="placement-preview">
          {preview.hostId ? (
            <p className="ok">
              It would go to <b data-testid="chosen-host">{chosen(preview)}</b>: {preview.explanation}
            </p>
          ) : preview.fits ? (
            <p className="ok">It would fit: {preview.explanation}</p>
          ) : rejectionRows(preview).length === 0 ? (
            <p className="error">{preview.explanation}</p>
          ) : (
            <p className="error">
              Nothing fits on any of the {new Set(rejectionRows(preview).map((r) => r.host)).size} hosts. Why,
              host by host:
            </p>
          )}
          {rejectionRows(preview).length > 0 && (
            <table className="grid">
              <thead>
                <tr>
                  <th>host</th>
                  <th>filter</th>
                  <th>why not</th>
                </tr>
              </thead>
              <tbody>
                {rejectionRows(preview).map((r, i) => (
                  <tr key={i}>
                    <td>{r.host}</td>
                    <td>{r.filter}</td>
                    <td>{r.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </div>
  );
}
