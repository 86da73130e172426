import { useState } from 'react';
import { client } from '../api.ts';
import { Plot } from '../components/Plot.tsx';
import { kwh, pct } from '../format.ts';
import { usePoll } from '../poll.ts';
import { linesFor } from '../model.ts';

export function Simulations() {
  const runs = usePoll(() => client.simulations.list(), 3000);
  const [sel, setSel] = useState<string>();
  const run = usePoll(() => (sel ? client.simulations.get(sel) : Promise.resolve(undefined)), 5000, [sel]);
  const [form, setForm] = useState({
    scenario: 'synthetic',
    trace: '',
    policies: 'thr-mmt:0.8,lr-mmt:1.2',
    mode: 'default',
    engine: 'simulator',
    limitVms: '',
    hosts: '',
  });
  const [error, setError] = useState<string>();
  const start = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await client.simulations.start({
        scenario: form.scenario,
        policies: form.policies
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        engine: form.engine as 'simulator' | 'control-plane',
        ...(form.engine === 'simulator' ? { mode: form.mode as 'cloudsim' | 'default' } : {}),
        ...(form.trace ? { trace: form.trace } : {}),
        ...(form.limitVms ? { limitVms: Number(form.limitVms) } : {}),
        ...(form.hosts ? { hosts: Number(form.hosts) } : {}),
      });
      setSel(r.name);
      runs.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const r = run.data && 'rows' in run.data ? run.data : undefined;
  const days = r ? [...new Set(Object.keys(r.series).map((k) => k.split('|')[0]!))] : [];
  const [pickedDay, setDay] = useState<string>();
  const day = pickedDay && days.includes(pickedDay) ? pickedDay : days[0];
  return (
    <div>
      <h2>Simulations</h2>
      <div className="cols">
        <div className="card">
          <h3>Runs</h3>
          <p className="muted small">
            Runs started here, and any <code>nubis sim --save DATA/simulations/NAME.json</code>.
          </p>
          <table className="grid runs">
            <thead>
              <tr>
                <th>run</th>
                <th>status</th>
                <th>policies</th>
                <th>scenario</th>
              </tr>
            </thead>
            <tbody>
              {(runs.data ?? []).map((x) => (
                <tr
                  key={x.name}
                  className={sel === x.name ? 'selected' : ''}
                  data-run={x.name}
                  data-status={x.status}
                >
                  <td>
                    <button className="link" onClick={() => setSel(x.name)}>
                      {x.name}
                    </button>
                  </td>
                  <td title={x.error}>{x.status}</td>
                  <td>{x.policies.join(', ')}</td>
                  <td>
                    {x.scenario} {x.engine === 'control-plane' ? '(control plane)' : (x.mode ?? '')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <form className="card form" onSubmit={start}>
          <h3>New run</h3>
          <label>
            scenario
            <select value={form.scenario} onChange={(e) => setForm({ ...form, scenario: e.target.value })}>
              <option>synthetic</option>
              <option>planetlab</option>
              <option>ops-demo</option>
            </select>
          </label>
          <label>
            trace name (a folder in the server's traces folder; PlanetLab)
            <input
              value={form.trace}
              placeholder="20110303"
              onChange={(e) => setForm({ ...form, trace: e.target.value })}
            />
          </label>
          <label>
            policies
            <input value={form.policies} onChange={(e) => setForm({ ...form, policies: e.target.value })} />
          </label>
          <label>
            engine
            <select value={form.engine} onChange={(e) => setForm({ ...form, engine: e.target.value })}>
              <option value="simulator">simulator</option>
              <option value="control-plane">control plane</option>
            </select>
          </label>
          {form.engine === 'simulator' && (
            <label>
              mode
              <select value={form.mode} onChange={(e) => setForm({ ...form, mode: e.target.value })}>
                <option>default</option>
                <option>cloudsim</option>
              </select>
            </label>
          )}
          <div className="inline">
            <label>
              VMs (first N)
              <input
                value={form.limitVms}
                inputMode="numeric"
                onChange={(e) => setForm({ ...form, limitVms: e.target.value })}
              />
            </label>
            <label>
              hosts
              <input
                value={form.hosts}
                inputMode="numeric"
                onChange={(e) => setForm({ ...form, hosts: e.target.value })}
              />
            </label>
          </div>
          <button type="submit">Start</button>
          {error && (
            <p className="error" role="alert">
              {error}
            </p>
          )}
        </form>
      </div>
      {run.data && !r && (
        <p className="muted">
          {run.data.name}: {run.data.status}
          {run.data.error ? `: ${run.data.error}` : ''}
        </p>
      )}
      {r && day && (
        <div className="card" data-testid="run-result">
          <h3>
            {r.name} <span className="muted small">{r.command}</span>
          </h3>
          {days.length > 1 && (
            <label className="inline">
              day{' '}
              <select value={day} onChange={(e) => setDay(e.target.value)}>
                {days.map((d) => (
                  <option key={d}>{d}</option>
                ))}
              </select>
            </label>
          )}
          <table className="grid">
            <thead>
              <tr>
                <th>day</th>
                <th>policy</th>
                <th>energy kWh</th>
                <th>migrations</th>
                <th>{r.engine === 'control-plane' ? 'overloaded' : 'SLATAH'}</th>
                <th>{r.engine === 'control-plane' ? 'HA restarts' : 'PDM'}</th>
                <th>{r.engine === 'control-plane' ? 'hosts on' : 'SLAV'}</th>
              </tr>
            </thead>
            <tbody>
              {r.rows.map((x, i) => (
                <tr key={i}>
                  <td>{String(x.day)}</td>
                  <td>{String(x.policy)}</td>
                  <td>{kwh(Number(x.energyKWh))}</td>
                  <td>{String(x.migrations)}</td>
                  {r.engine === 'control-plane' ? (
                    <>
                      <td>{pct(Number(x.overloadShare), 2)}</td>
                      <td>{String(x.haRestarts)}</td>
                      <td>{Number(x.meanActiveHosts).toFixed(1)}</td>
                    </>
                  ) : (
                    <>
                      <td>{pct(Number(x.slatah), 3)}</td>
                      <td>{pct(Number(x.pdm), 4)}</td>
                      <td>{pct(Number(x.slav), 5)}</td>
                    </>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          <div className="plots">
            <Plot
              title="Active hosts"
              xTime={false}
              xLabel="hours"
              yLabel="hosts"
              {...linesFor(r, day, 'activeHosts')}
            />
            <Plot
              title="Power"
              xTime={false}
              xLabel="hours"
              yLabel="kW"
              {...linesFor(r, day, 'powerW', 1e-3)}
            />
            <Plot
              title="SLA violation"
              xTime={false}
              xLabel="hours"
              yLabel="% of hosts"
              {...linesFor(r, day, 'slaViolation', 100)}
            />
            <Plot
              title="Migrations per step"
              xTime={false}
              xLabel="hours"
              yLabel="migrations"
              {...linesFor(r, day, 'migrations')}
            />
          </div>
        </div>
      )}
    </div>
  );
}
