/**
 * What placement needs from the memory model for one request (issue 17): the measured hosts' VMs as
 * the memory-overcommit policy counts them, each host's sharing index over its mergeable VMs'
 * fingerprints, and the placed VM's own memory (measured when it already runs, else predicted from a
 * running VM of the same image, one of the same tenant first). Null when no host is measured: the
 * static rule and the host index decide as before.
 */
import { SharingIndex, type PageFingerprint } from '../../core/memory/fingerprint.ts';
import type { HostMemoryView, RequestMemory } from '../../policies/placement/pipeline.ts';
import type { ControlPlane } from '../control-plane.ts';
import type { Db } from '../store/open-store.ts';
import type { PlaceRequest } from './scheduler.ts';

/** The setting that overrides the scheduler's sharing weight (a number ≥ 0). */
export const SHARING_WEIGHT_SETTING = 'placement-sharing-weight';

/** The memory part of a placement: per measured host, the request's memory, the scorer weights. */
export interface MemoryPlacement {
  hosts: Map<string, HostMemoryView>;
  request: RequestMemory;
  weights: Record<string, number>;
}

/** Read the memory model for a request; null when no live host has the 'measured' policy. */
export async function memoryPlacement(
  cp: Pick<ControlPlane, 'memoryProfiles'>,
  db: Db,
  r: PlaceRequest,
  sharingWeight: number,
): Promise<MemoryPlacement | null> {
  const measured = await cp.memoryProfiles.measuredHosts(db);
  if (!measured.length) return null;
  const [vmsOn, { request, weights }] = await Promise.all([
    cp.memoryProfiles.vmsOn(db, measured),
    memoryRequest(cp, db, r, sharingWeight),
  ]);
  const hosts = new Map<string, HostMemoryView>();
  for (const h of measured) {
    const vms = vmsOn.get(h.id) ?? [];
    const fps = vms.filter((v) => v.mergeable && v.fingerprint).map((v) => v.fingerprint!);
    hosts.set(h.id, {
      risk: h.risk,
      guarantee: h.guarantee,
      vms,
      sharing: fps.length ? sharingIndex(fps, request.fingerprint) : undefined,
    });
  }
  return { hosts, request, weights };
}

/** The request's memory and the scorer weights (the sharing weight setting over `sharingWeight`). */
export async function memoryRequest(
  cp: Pick<ControlPlane, 'memoryProfiles'>,
  db: Db,
  r: PlaceRequest,
  sharingWeight: number,
): Promise<{ request: RequestMemory; weights: Record<string, number> }> {
  const [request, setting] = await Promise.all([
    requestMemory(cp, db, r),
    db.selectFrom('settings').select('value').where('key', '=', SHARING_WEIGHT_SETTING).executeTakeFirst(),
  ]);
  const w = setting && Number(setting.value) >= 0 ? Number(setting.value) : sharingWeight;
  return { request, weights: { sharing: w } };
}

/** An index over `fps`, at the coarsest sampling among them and the candidate's. */
export function sharingIndex(fps: readonly PageFingerprint[], candidate?: PageFingerprint): SharingIndex {
  const bits = Math.max(candidate?.sampleBits ?? 0, ...fps.map((f) => f.sampleBits));
  const idx = new SharingIndex(bits);
  for (const f of fps) idx.add(f);
  return idx;
}

/** The placed VM's memory: its own profile, or one predicted from its image; never merged when private. */
async function requestMemory(cp: Pick<ControlPlane, 'memoryProfiles'>, db: Db, r: PlaceRequest) {
  let tenantId = r.image?.tenantId;
  let imageId = r.image?.imageId;
  if (!r.vm.fresh) {
    const v = await db
      .selectFrom('vms')
      .select(['tenant_id', 'image_id'])
      .where('id', '=', r.vm.id)
      .executeTakeFirst();
    tenantId = v?.tenant_id ?? tenantId;
    imageId = v?.image_id ?? imageId;
    const own = await cp.memoryProfiles.get(db, r.vm.id);
    if (own) {
      const mergeable = own.mergeable && (await sharing(db, tenantId));
      return {
        workingSet: { meanMiB: own.wsMeanMiB, sdMiB: own.wsSdMiB },
        ...(mergeable && own.fingerprint ? { fingerprint: own.fingerprint } : {}),
        mergeable,
      } satisfies RequestMemory;
    }
  }
  const mergeable = await sharing(db, tenantId);
  const p =
    imageId && tenantId
      ? await cp.memoryProfiles.predict(db, { imageId, tenantId, excludeVm: r.vm.id })
      : undefined;
  return {
    ...(p ? { workingSet: p.workingSet } : {}),
    ...(p?.fingerprint && mergeable ? { fingerprint: p.fingerprint } : {}),
    mergeable,
  } satisfies RequestMemory;
}

/** Whether a tenant's VMs may share pages ('shared', the default). */
async function sharing(db: Db, tenantId: string | undefined): Promise<boolean> {
  if (!tenantId) return true;
  const t = await db
    .selectFrom('tenants')
    .select('memory_sharing')
    .where('id', '=', tenantId)
    .executeTakeFirst();
  return t?.memory_sharing !== 'private';
}
