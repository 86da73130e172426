import { useState } from 'react';
import { client, download, type Invoice, type Me } from '../api.ts';
import { kwh } from '../format.ts';
import { usePoll } from '../poll.ts';

const monthStart = () => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString().slice(0, 10);
};
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

/** An invoice's totals as text, one per currency (never added across currencies): `3.32 EUR + 5.00 USD`. */
export function invoiceTotals(inv: Pick<Invoice, 'totals'>): string {
  return inv.totals.length
    ? inv.totals.map((t) => `${t.amount.toFixed(2)} ${t.currency}`).join(' + ')
    : 'nothing billed';
}

export function Usage({ me }: { me: Me }) {
  const operator = me.role === 'admin' || me.role === 'operator';
  const tenants = usePoll(() => (operator ? client.tenants.list() : Promise.resolve([])), 60_000);
  const [q, setQ] = useState({ from: monthStart(), to: tomorrow(), tenant: '' });
  const period = {
    from: `${q.from}T00:00:00Z`,
    to: `${q.to}T00:00:00Z`,
    ...(q.tenant ? { tenant: q.tenant } : {}),
  };
  const key = JSON.stringify(period);
  const daily = usePoll(() => client.usage.daily(period), 15_000, [key]);
  const inv = usePoll(() => client.invoices.get(period), 15_000, [key]);
  const energy = usePoll(() => client.energy.report({ from: q.from, to: q.to, by: 'tenant' }), 15_000, [
    q.from,
    q.to,
  ]);
  const [error, setError] = useState<string>();
  const mine =
    energy.data?.rows.filter(
      (r) =>
        r.ref ===
        (q.tenant ? tenants.data?.find((t) => t.name === q.tenant || t.id === q.tenant)?.id : me.tenantId),
    ) ?? [];
  return (
    <div>
      <h2>Usage and billing</h2>
      <div className="card inline">
        <label>
          from{' '}
          <input
            type="date"
            value={q.from}
            onChange={(e) => setQ({ ...q, from: e.target.value })}
            aria-label="from"
          />
        </label>
        <label>
          to{' '}
          <input
            type="date"
            value={q.to}
            onChange={(e) => setQ({ ...q, to: e.target.value })}
            aria-label="to"
          />
        </label>
        {operator && (
          <label>
            tenant{' '}
            <select
              value={q.tenant}
              onChange={(e) => setQ({ ...q, tenant: e.target.value })}
              aria-label="tenant"
            >
              <option value="">mine</option>
              {(tenants.data ?? []).map((t) => (
                <option key={t.id} value={t.name}>
                  {t.name}
                </option>
              ))}
            </select>
          </label>
        )}
        <button
          onClick={() =>
            client.invoices
              .csv(period)
              .then((csv) => download(csv, `invoice-${q.tenant || 'mine'}-${q.from}-${q.to}.csv`))
              .catch((e) => setError((e as Error).message))
          }
        >
          Download invoice (CSV)
        </button>
        {error && <span className="error">{error}</span>}
      </div>
      {(daily.error || inv.error) && <p className="error">{daily.error ?? inv.error}</p>}
      <div className="cols">
        <div className="card">
          <h3>
            Invoice{' '}
            {inv.data && (
              <span className="muted" data-testid="invoice-total">
                {invoiceTotals(inv.data)}
              </span>
            )}
          </h3>
          <table className="grid">
            <thead>
              <tr>
                <th>flavor</th>
                <th>tariff</th>
                <th>vCPU h</th>
                <th>GiB h</th>
                <th>disk GiB h</th>
                <th>kWh</th>
                <th>amount</th>
              </tr>
            </thead>
            <tbody>
              {(inv.data?.lines ?? []).map((l, i) => (
                <tr key={i}>
                  <td>{l.flavor}</td>
                  <td>{l.tariff}</td>
                  <td>{l.vcpuHours.toFixed(2)}</td>
                  <td>{l.memoryGiBHours.toFixed(2)}</td>
                  <td>{l.diskGiBHours.toFixed(1)}</td>
                  <td>{kwh(l.energyKWh)}</td>
                  <td>
                    {l.amount.toFixed(2)} {l.currency}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {inv.data?.notice && (
            <p className="error small" data-testid="invoice-notice">
              {inv.data.notice}
            </p>
          )}
          <h3>Energy (metered)</h3>
          <p>
            {mine.length
              ? `${kwh(mine[0]!.itKWh)} kWh IT, ${kwh(mine[0]!.facilityKWh)} kWh with PUE ${energy.data?.pue}`
              : 'no energy metered in this period'}
          </p>
        </div>
        <div className="card">
          <h3>By flavor and day</h3>
          <table className="grid">
            <thead>
              <tr>
                <th>day</th>
                <th>flavor</th>
                <th>running h</th>
                <th>vCPU h</th>
                <th>GiB h</th>
                <th>disk GiB h</th>
              </tr>
            </thead>
            <tbody>
              {(daily.data?.rows ?? []).map((r, i) => (
                <tr key={i}>
                  <td>{r.day}</td>
                  <td>{r.flavor}</td>
                  <td>{(r.runningS / 3600).toFixed(2)}</td>
                  <td>{r.vcpuHours.toFixed(2)}</td>
                  <td>{r.memoryGiBHours.toFixed(2)}</td>
                  <td>{r.diskGiBHours.toFixed(1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}
