/**
 * Editing and deleting tariffs. An edit keeps the no-overlap rule of create
 * (`cp.invoices.refuseOverlap` over tariff-rules.ts: two tariffs never bill the same seconds); a deleted tariff is removed (invoices are computed
 * from the tariffs in force when they are read).
 *
 * Uses: `cp.invoices` (the overlap check).
 */
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { parseBillingTime } from './period.ts';

/** What `PATCH /v1/tariffs/:id` may change. */
export interface TariffChanges {
  name?: string;
  validFrom?: string;
  validTo?: string | null;
  currency?: string;
  vcpuHour?: number;
  memoryGiBHour?: number;
  diskGiBHour?: number;
  kWh?: number;
  /** Price of one GiB of volume for one hour. */
  volumeGiBHour?: number;
}

/** Editing and deleting tariffs. */
export class Tariffs extends Service {
  private async row(id: string) {
    const t = await this.db.selectFrom('tariffs').selectAll().where('id', '=', id).executeTakeFirst();
    if (!t) throw new ControlError('NOT_FOUND', `No tariff "${id}"`);
    return t;
  }

  /** Change a tariff; a new window must start before it ends and overlap no other tariff (409 naming it). */
  async updateTariff(p: Principal, id: string, c: TariffChanges) {
    authorize(p, 'tariff:write');
    const t = await this.row(id);
    const validFrom = c.validFrom !== undefined ? parseBillingTime('validFrom', c.validFrom) : t.valid_from;
    const validTo =
      c.validTo === null
        ? null
        : c.validTo !== undefined
          ? parseBillingTime('validTo', c.validTo)
          : t.valid_to;
    if (validTo && !(Date.parse(validFrom) < Date.parse(validTo)))
      throw new ControlError('BAD_REQUEST', `validFrom (${validFrom}) must be before validTo (${validTo})`);
    const name = c.name ?? t.name;
    await this.db.transaction().execute(async (trx) => {
      // The same overlap rule as on create (tariff-rules.ts), checked in the writing transaction.
      await this.cp.invoices.refuseOverlap(trx, { id, name, validFrom, validTo });
      await trx
        .updateTable('tariffs')
        .set({
          name,
          valid_from: validFrom,
          valid_to: validTo,
          currency: c.currency ?? t.currency,
          vcpu_hour: c.vcpuHour ?? t.vcpu_hour,
          memory_gib_hour: c.memoryGiBHour ?? t.memory_gib_hour,
          disk_gib_hour: c.diskGiBHour ?? t.disk_gib_hour,
          kwh: c.kWh ?? t.kwh,
          volume_gib_hour: c.volumeGiBHour ?? t.volume_gib_hour,
        })
        .where('id', '=', id)
        .execute();
      await this.event(trx, { actor: p.userName, kind: 'tariff.updated', detail: { id, ...c } });
    });
    const n = await this.row(id);
    return {
      id: n.id,
      name: n.name,
      validFrom: n.valid_from,
      validTo: n.valid_to,
      currency: n.currency,
      vcpuHour: n.vcpu_hour,
      memoryGiBHour: n.memory_gib_hour,
      diskGiBHour: n.disk_gib_hour,
      kWh: n.kwh,
      volumeGiBHour: n.volume_gib_hour,
    };
  }

  /** Delete a tariff (the seconds it priced are then unbilled until another tariff covers them). */
  async deleteTariff(p: Principal, id: string) {
    authorize(p, 'tariff:write');
    const t = await this.row(id);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('tariffs').where('id', '=', id).execute();
      await this.event(trx, { actor: p.userName, kind: 'tariff.deleted', detail: { id, name: t.name } });
    });
  }
}
