import { lazy, Suspense, useState } from 'react';
import { client, type Me, type Operation, type VmAction } from '../api.ts';
import { Plot } from '../components/Plot.tsx';
import { VmVolumes } from '../components/VmVolumes.tsx';
import { secs, time } from '../format.ts';
import { usePoll } from '../poll.ts';
import { go, href } from '../router.ts';
import { Events } from './HostPage.tsx';
import { migrations } from '../model.ts';

// The terminal widget (xterm.js) loads only when a VM page shows its console.
const SerialConsole = lazy(() =>
  import('../components/SerialConsole.tsx').then((m) => ({ default: m.SerialConsole })),
);

export function VmPage({ id, me }: { id: string; me: Me }) {
  const vm = usePoll(() => client.vms.get(id), 2000, [id]);
  const ev = usePoll(() => client.events.list({ vm: id, limit: 200 }), 3000, [id]);
  const flavors = usePoll(() => client.flavors.list(), 60_000);
  const [busy, setBusy] = useState<string>();
  const [msg, setMsg] = useState<{ ok: boolean; text: string }>();
  const [snap, setSnap] = useState('');
  const [flavor, setFlavor] = useState('');
  if (vm.error) return <p className="error">{vm.error}</p>;
  const v = vm.data;
  if (!v) return <p className="muted">loading…</p>;
  const run = async (label: string, f: () => Promise<Operation | unknown>) => {
    setBusy(label);
    setMsg(undefined);
    try {
      const op = (await f()) as Operation | undefined;
      if (op && typeof op === 'object' && 'status' in op && op.status === 'failed')
        setMsg({ ok: false, text: `${label} failed: ${op.error}` });
      else setMsg({ ok: true, text: `${label}: done` });
      vm.reload();
      ev.reload();
    } catch (e) {
      setMsg({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(undefined);
    }
  };
  const act = (action: VmAction, extra: { snapshotName?: string; flavor?: string; name?: string } = {}) =>
    run(action, () => client.vms.action(v.id, action, extra));
  const can = (a: VmAction) => v.allowedActions.includes(a) && (me.role === 'admin' || me.role === 'member');
  const s = v.cpuSeries ?? [];
  const migs = migrations(ev.data ?? []);
  return (
    <div>
      <h2>
        VM {v.name}{' '}
        <span className={`badge st-${v.state}`} data-testid="vm-state">
          {v.state}
        </span>
        {v.ha && (
          <span className="badge ha" title="restarted elsewhere if its host fails">
            HA{v.haPriority ? ` · priority ${v.haPriority}` : ''}
          </span>
        )}
      </h2>
      <div className="card facts">
        <div>
          <b>flavor</b> {v.flavor}
        </div>
        <div>
          <b>image</b> {v.image}
        </div>
        <div>
          <b>host</b>{' '}
          {v.hostId ? (
            <a href={href('hosts', v.hostId)} data-testid="vm-host">
              {v.hostName}
            </a>
          ) : (
            '—'
          )}
        </div>
        <div>
          <b>created</b> {time(v.createdAt)}
        </div>
        <div>
          <b>id</b> <code>{v.id}</code>
        </div>
      </div>
      <div className="card actions">
        {(['start', 'stop', 'reboot', 'suspend', 'resume', 'clone'] as const).filter(can).map((a) => (
          <button key={a} disabled={!!busy} onClick={() => act(a)}>
            {a}
          </button>
        ))}
        {can('snapshot') && (
          <span className="inline">
            <input
              placeholder="snapshot name"
              value={snap}
              onChange={(e) => setSnap(e.target.value)}
              aria-label="snapshot name"
            />
            <button disabled={!!busy || !snap} onClick={() => act('snapshot', { snapshotName: snap })}>
              snapshot
            </button>
            {can('restore') && (
              <button disabled={!!busy || !snap} onClick={() => act('restore', { snapshotName: snap })}>
                restore
              </button>
            )}
          </span>
        )}
        {can('resize') && (
          <span className="inline">
            <select value={flavor} onChange={(e) => setFlavor(e.target.value)} aria-label="new flavor">
              <option value="">new flavor…</option>
              {(flavors.data ?? [])
                .filter((f) => f.name !== v.flavor)
                .map((f) => (
                  <option key={f.id} value={f.name}>
                    {f.name} ({f.vcpus} vCPU, {f.memoryMiB} MiB)
                  </option>
                ))}
            </select>
            <button disabled={!!busy || !flavor} onClick={() => act('resize', { flavor })}>
              resize
            </button>
          </span>
        )}
        {(me.role === 'admin' || me.role === 'operator') && v.state === 'running' && (
          <button disabled={!!busy} onClick={() => run('migrate', () => client.vms.migrate(v.id))}>
            migrate
          </button>
        )}
        {can('delete') && (
          <button
            className="danger"
            disabled={!!busy}
            onClick={() => {
              if (window.confirm(`Delete ${v.name}?`))
                void run('delete', () => client.vms.delete(v.id)).then(() => go('vms'));
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
      <div className="card">
        <Plot
          title="CPU utilization"
          x={s.map((p) => p.t)}
          series={[{ label: 'CPU %', values: s.map((p) => p.cpu * 100) }]}
          yLabel="%"
          yMax={100}
        />
      </div>
      {v.state !== 'deleted' && (
        <VmVolumes
          vmId={v.id}
          tenantId={v.tenantId}
          canWrite={me.role === 'admin' || (me.role === 'member' && me.tenantId === v.tenantId)}
        />
      )}
      {v.state !== 'building' && v.state !== 'deleted' && (
        <Suspense fallback={<p className="muted">loading the console…</p>}>
          <SerialConsole
            vmId={v.id}
            interactive={
              v.state === 'running' &&
              (me.role === 'admin' || (me.role === 'member' && me.tenantId === v.tenantId))
            }
          />
        </Suspense>
      )}
      <div className="cols">
        <div className="card">
          <h3>Migrations</h3>
          {migs.length === 0 ? (
            <p className="muted">none</p>
          ) : (
            <table className="grid">
              <thead>
                <tr>
                  <th>at</th>
                  <th>from → to</th>
                  <th>duration</th>
                  <th>downtime</th>
                </tr>
              </thead>
              <tbody>
                {migs.map((m, i) => (
                  <tr key={i}>
                    <td className="nowrap">{time(m.at)}</td>
                    <td>
                      {m.from} → {m.to}
                    </td>
                    <td>
                      {m.totalMs !== undefined ? secs(m.totalMs / 1000) : '—'}
                      {m.modeled ? ' (modeled)' : ''}
                    </td>
                    <td>{m.downtimeMs !== undefined ? `${m.downtimeMs} ms` : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <div className="card">
          <h3>Events</h3>
          <Events rows={ev.data ?? []} />
        </div>
      </div>
    </div>
  );
}
