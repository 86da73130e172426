/**
 * A VM's descriptive attributes (migration 0962): name, description, metadata, tags, access IPs, the
 * lock, and whether a suspend was a pause. What Nova's API edits on a server; nubis's own API can
 * read them on the VM record.
 *
 * Uses: `cp.vmReads`. Also an admin's reset of a VM's recorded state.
 */
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { VmRow } from './vm-reads.ts';

/** The attributes an edit may change (each optional; metadata and tags replace the whole set). */
export interface VmAttributeEdit {
  name?: string;
  description?: string | null;
  metadata?: Record<string, string>;
  tags?: string[];
  accessIpv4?: string;
  accessIpv6?: string;
  locked?: boolean;
  paused?: boolean;
}

/** How many metadata items a VM may have (Nova's default `metadata_items` quota). */
export const MAX_VM_METADATA = 128;

/** A VM's descriptive attributes. */
export class VmAttributes extends Service {
  /** Change a VM's attributes (authorized as an action on it); returns the row as written. */
  async edit(p: Principal, id: string, e: VmAttributeEdit): Promise<VmRow> {
    const v = await this.cp.vmReads.vmRow(p, id, 'vm:action');
    if (e.metadata && Object.keys(e.metadata).length > MAX_VM_METADATA)
      throw new ControlError(
        'QUOTA_EXCEEDED',
        `VM "${v.name}" may have at most ${MAX_VM_METADATA} metadata items`,
      );
    const set = {
      ...(e.name !== undefined ? { name: e.name } : {}),
      ...(e.description !== undefined ? { description: e.description } : {}),
      ...(e.metadata !== undefined ? { metadata: JSON.stringify(e.metadata) } : {}),
      ...(e.tags !== undefined ? { tags: JSON.stringify(e.tags) } : {}),
      ...(e.accessIpv4 !== undefined ? { access_ipv4: e.accessIpv4 } : {}),
      ...(e.accessIpv6 !== undefined ? { access_ipv6: e.accessIpv6 } : {}),
      ...(e.locked !== undefined ? { locked: e.locked ? 1 : 0 } : {}),
      ...(e.paused !== undefined ? { paused: e.paused ? 1 : 0 } : {}),
    };
    if (!Object.keys(set).length) return v;
    const updatedAt = this.now();
    await this.db
      .updateTable('vms')
      .set({ ...set, updated_at: updatedAt })
      .where('id', '=', v.id)
      .where('deleted_at', 'is', null)
      .execute();
    return { ...v, ...set, updated_at: updatedAt } as VmRow;
  }

  /**
   * Set a VM's recorded state without touching its guest (admin repairs, Nova's os-resetState):
   * `running` (not paused) or `error`. The next operation on it acts from that state.
   */
  async resetState(p: Principal, id: string, state: 'running' | 'error'): Promise<void> {
    authorize(p, 'vm:reset');
    const v = await this.cp.vmReads.vmRow(p, id, 'vm:action');
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('vms')
        .set({ state, ...(state === 'running' ? { paused: 0 } : {}), updated_at: this.now() })
        .where('id', '=', v.id)
        .where('deleted_at', 'is', null)
        .execute();
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: v.host_id,
        actor: p.userName,
        kind: 'vm.state.reset',
        detail: { from: v.state, to: state },
      });
    });
  }

  /** Record when a VM's guest was first launched (the end of its create). */
  async launched(vmId: string, at: string): Promise<void> {
    await this.db
      .updateTable('vms')
      .set({ launched_at: at })
      .where('id', '=', vmId)
      .where('launched_at', 'is', null)
      .execute();
  }
}
