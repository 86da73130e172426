/** A plan's actions with why, cost and gain; the buttons are the page's. */
import type { Plan, PlanAction } from '../api.ts';
import { pct, secs, watts } from '../format.ts';

export function costGain(a: PlanAction): string {
  if (a.type === 'migrate')
    return `${secs(a.cost?.timeS ?? 0)}, ${Math.round(a.cost?.dataMiB ?? 0)} MiB${a.gain?.loadMoved !== undefined ? ` · moves ${pct(a.gain.loadMoved)} of the host's CPU` : ''}`;
  if (a.type === 'power-on') return `adds ${watts(a.cost?.watts ?? 0)}`;
  return `saves ${watts(a.gain?.wattsSaved ?? 0)}`;
}

export function progress(p: Plan): string {
  const r = p.result;
  if (p.status === 'applying')
    return r?.done !== undefined
      ? `applying: ${r.done} of ${r.of ?? p.actions.length} done (wave ${r.wave} of ${r.waves})`
      : 'applying';
  if (p.status === 'waiting')
    return `waiting for ${(r?.waitingForNames ?? []).join(', ')} to switch on; ${r?.done ?? 0} of ${r?.of ?? p.actions.length} done`;
  if (p.status === 'applied')
    return `applied: ${r?.done ?? p.actions.length} action(s) in ${r?.waves ?? 1} wave(s)`;
  if (p.status === 'failed')
    return `failed at action ${(r?.failed?.action ?? 0) + 1}: ${r?.failed?.error ?? ''}; ${r?.done ?? 0} done, ${r?.cancelled ?? 0} cancelled`;
  if (p.status === 'stale')
    return `stale: ${(r?.violations ?? []).map((v) => `action ${v.action + 1}: ${v.reason}`).join('; ')}`;
  return p.status;
}

export function PlanView({ plan, hostName }: { plan: Plan; hostName: (id: string) => string }) {
  return (
    <table className="grid plan-actions">
      <thead>
        <tr>
          <th>#</th>
          <th>action</th>
          <th>what</th>
          <th>why</th>
          <th>cost / gain</th>
        </tr>
      </thead>
      <tbody>
        {plan.actions.map((a, i) => (
          <tr key={i} className={`action-${a.type}`}>
            <td>{i + 1}</td>
            <td>{a.type}</td>
            <td>
              {a.type === 'migrate' ? (
                <>
                  {a.vmName}{' '}
                  <span className="muted">
                    {hostName(a.from!)} → {hostName(a.to!)}
                  </span>
                </>
              ) : (
                a.hostName
              )}
            </td>
            <td>{a.reason}</td>
            <td>{costGain(a)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
