import { useState } from 'react';
import { client, type Plan } from '../api.ts';
import { PlanView, progress } from '../components/PlanView.tsx';
import { secs, time } from '../format.ts';
import { usePoll } from '../poll.ts';
import { migrations } from '../model.ts';

export function Plans() {
  const plans = usePoll(() => client.plans.list(), 2000);
  const hosts = usePoll(() => client.hosts.list(), 10_000);
  const ev = usePoll(() => client.events.list({ limit: 500 }), 4000);
  const vms = usePoll(() => client.vms.list(), 10_000);
  const [policy, setPolicy] = useState('reservation');
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const names = new Map((hosts.data ?? []).map((h) => [h.id, h.name]));
  const hostName = (id: string) => names.get(id) ?? id.slice(0, 8);
  const act = async (label: string, f: () => Promise<unknown>) => {
    setBusy(label);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(undefined);
      plans.reload();
      ev.reload();
    }
  };
  const vmNames = new Map((vms.data ?? []).map((v) => [v.id, v.name]));
  const timeline = (ev.data ?? []).filter((e) => e.kind === 'vm.migrated').slice(0, 50);
  const active = (p: Plan) => p.status === 'proposed' || p.status === 'applying' || p.status === 'waiting';
  const proposed = (plans.data ?? []).filter(active);
  const past = (plans.data ?? []).filter((p) => !active(p)).slice(0, 20);
  return (
    <div>
      <h2>Plans</h2>
      <div className="card inline">
        <label>
          policy{' '}
          <select value={policy} onChange={(e) => setPolicy(e.target.value)} aria-label="policy">
            <option value="reservation">reservation (pack by flavor)</option>
            <option value="lr-mmt:1.2">lr-mmt:1.2 (load-aware)</option>
            <option value="thr-mmt:0.8">thr-mmt:0.8 (load-aware)</option>
            <option value="spread:0.3">spread:0.3 (rebalance)</option>
          </select>
        </label>
        <button disabled={!!busy} onClick={() => act('audit', () => client.plans.audit({ policy }))}>
          Audit now
        </button>
        {busy && <span className="muted">{busy}…</span>}
        {error && (
          <span className="error" role="alert">
            {error}
          </span>
        )}
      </div>
      {proposed.length === 0 && <p className="muted">No plan waits for approval.</p>}
      {proposed.map((p) => (
        <div key={p.id} className="card plan" data-plan={p.id} data-status={p.status}>
          <h3>{p.summary}</h3>
          <p className="muted">
            {p.zone ? `zone ${p.zone} · ` : ''}proposed {time(p.createdAt)} by {p.createdBy}
            {p.status !== 'proposed' ? ` · ${progress(p)}` : ''}
          </p>
          <PlanView plan={p} hostName={hostName} />
          {(p.status === 'proposed' || p.status === 'waiting') && (
            <div className="buttons">
              {p.status === 'proposed' && (
                <button disabled={!!busy} onClick={() => act('apply', () => client.plans.apply(p.id))}>
                  Approve and apply
                </button>
              )}
              {p.status === 'waiting' && (
                <button disabled={!!busy} onClick={() => act('resume', () => client.plans.apply(p.id))}>
                  Resume now
                </button>
              )}
              <button
                className="secondary"
                disabled={!!busy}
                onClick={() => act('discard', () => client.plans.discard(p.id))}
              >
                Discard
              </button>
            </div>
          )}
        </div>
      ))}
      <div className="cols">
        <div className="card">
          <h3>Past plans</h3>
          <table className="grid">
            <thead>
              <tr>
                <th>when</th>
                <th>status</th>
                <th>summary</th>
              </tr>
            </thead>
            <tbody>
              {past.length === 0 && (
                <tr>
                  <td colSpan={3} className="muted">
                    none yet
                  </td>
                </tr>
              )}
              {past.map((p) => (
                <tr key={p.id} data-status={p.status}>
                  <td className="nowrap">{time(p.createdAt)}</td>
                  <td title={progress(p)}>{p.status}</td>
                  <td>{p.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="card">
          <h3>Migrations</h3>
          <table className="grid" data-testid="migrations">
            <thead>
              <tr>
                <th>at</th>
                <th>VM</th>
                <th>from → to</th>
                <th>duration</th>
                <th>downtime</th>
              </tr>
            </thead>
            <tbody>
              {timeline.length === 0 && (
                <tr className="empty">
                  <td colSpan={5} className="muted">
                    none yet
                  </td>
                </tr>
              )}
              {timeline.map((e) => {
                const m = migrations([e])[0]!;
                return (
                  <tr key={e.id}>
                    <td className="nowrap">{time(e.at)}</td>
                    <td>{(e.vmId && vmNames.get(e.vmId)) ?? e.vmId?.slice(0, 8)}</td>
                    <td>
                      {m.from} → {m.to}
                    </td>
                    <td>
                      {m.totalMs !== undefined ? secs(m.totalMs / 1000) : '—'}
                      {m.modeled ? '*' : ''}
                    </td>
                    <td>{m.downtimeMs !== undefined ? `${m.downtimeMs} ms` : '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <p className="muted small">* simulated hosts: what the live-migration models predict</p>
        </div>
      </div>
    </div>
  );
}
