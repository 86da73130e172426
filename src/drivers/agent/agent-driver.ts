/**
 * A host driver that runs guests on a remote host through its nubis agent's HTTP API: the control
 * plane uses it for real hosts. Same interface, same conformance suite as the local drivers; migrate
 * and power are the agent's own endpoints (the agents stream to each other; the agent runs the
 * power-control command).
 */
import { isIP } from 'node:net';
import type {
  HostDriver,
  HostRef,
  HostVolume,
  MigrateRequest,
  MigrationReport,
  PowerResult,
} from '../../core/host-driver.ts';
import { DriverError, type GuestInfo, type GuestMetrics, type GuestSpec } from '../../core/hypervisor.ts';
import { consoleTailBytes, type ConsoleLog, type ConsoleLogOptions } from '../../core/console.ts';
import { openAgentConsole } from './agent-console.ts';
import { agentRequest, type AgentTls } from './agent-request.ts';
import type { HostNetworkState } from '../../core/network/host-network.ts';
import type { GuestDisk, VolumeSpec } from '../../core/storage/host-storage.ts';
import { checkMemoryProfile, type GuestMemoryProfile } from '../../core/memory/profile.ts';

/** The agent's migration request body (options, or a plan from a downtime target). */
function migrationBody(r: MigrateRequest) {
  return r.downtimeTargetMs
    ? {
        plan: {
          downtimeTargetMs: r.downtimeTargetMs,
          bandwidthMbps: r.bandwidthMbps ?? 1000,
          ...(r.disks ? { disks: r.disks } : {}),
        },
      }
    : {
        options: {
          mode: r.mode ?? 'precopy',
          ...(r.bandwidthMbps ? { bandwidthMbps: r.bandwidthMbps } : {}),
          ...(r.disks ? { disks: r.disks } : {}),
        },
      };
}

/**
 * The IP address an agent URL names (brackets dropped), or undefined for a host name, a loopback or
 * an unspecified address (a local source may connect from any of the machine's addresses).
 */
function ipOf(url: string): string | undefined {
  const h = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (!isIP(h) || h.startsWith('127.') || ['::1', '0.0.0.0', '::'].includes(h)) return undefined;
  return h;
}

/**
 * The driver of one agent: every call goes to `url` (the address bound at enrollment) with `token`
 * (the credential that agent issued), over HTTPS with the pinned CA when `tls` is given.
 */
export class AgentDriver implements HostDriver {
  readonly kind = 'qemu';
  accel = 'unknown';

  constructor(
    readonly url: string,
    private readonly token?: string,
    private readonly tls?: AgentTls,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, vmId?: string): Promise<T> {
    let res: { status: number; ok: boolean; text: string };
    try {
      res = await agentRequest(
        this.url.replace(/\/+$/, '') + path,
        {
          method,
          headers: {
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        },
        this.tls,
      );
    } catch (e) {
      throw new DriverError('BACKEND', `Agent ${this.url} is unreachable: ${(e as Error).message}`, vmId, {
        cause: e,
      });
    }
    const text = res.text;
    let data: { code?: string; message?: string } | undefined;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      throw new DriverError(
        'BACKEND',
        `Agent ${this.url} answered ${res.status} with a body that is not JSON`,
        vmId,
      );
    }
    if (!res.ok) {
      const code = ['NOT_FOUND', 'ALREADY_EXISTS', 'INVALID_STATE', 'BAD_SPEC', 'BACKEND'].includes(
        data?.code ?? '',
      )
        ? (data!.code as DriverError['code'])
        : res.status === 400
          ? 'BAD_SPEC'
          : 'BACKEND';
      throw new DriverError(code, data?.message ?? `agent answered ${res.status}`, vmId);
    }
    return data as T;
  }

  /** Host facts (and the acceleration the agent uses). */
  async host(): Promise<Record<string, unknown>> {
    const h = await this.call<Record<string, unknown>>('GET', '/v1/host');
    this.accel = String(h.accel);
    return h;
  }

  create(spec: GuestSpec) {
    return this.call<GuestInfo>('POST', '/v1/guests', spec, spec.id);
  }
  async get(id: string) {
    try {
      return await this.call<GuestInfo>('GET', `/v1/guests/${encodeURIComponent(id)}`, undefined, id);
    } catch (e) {
      if (e instanceof DriverError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  }
  list() {
    return this.call<GuestInfo[]>('GET', '/v1/guests');
  }
  private act(id: string, a: string, body: unknown = {}) {
    return this.call<unknown>('POST', `/v1/guests/${encodeURIComponent(id)}/${a}`, body, id).then(
      () => undefined,
    );
  }
  start(id: string) {
    return this.act(id, 'start');
  }
  stop(id: string, opts: { force?: boolean; timeoutMs?: number } = {}) {
    return this.act(id, 'stop', opts);
  }
  pause(id: string) {
    return this.act(id, 'pause');
  }
  resume(id: string) {
    return this.act(id, 'resume');
  }
  reboot(id: string) {
    return this.act(id, 'reboot');
  }
  snapshot(id: string, name: string) {
    return this.act(id, 'snapshots', { name });
  }
  restore(id: string, name: string) {
    return this.act(id, `snapshots/${encodeURIComponent(name)}/restore`);
  }
  listSnapshots(id: string) {
    return this.call<string[]>('GET', `/v1/guests/${encodeURIComponent(id)}/snapshots`, undefined, id);
  }
  async deleteSnapshot(id: string, name: string) {
    await this.call(
      'DELETE',
      `/v1/guests/${encodeURIComponent(id)}/snapshots/${encodeURIComponent(name)}`,
      undefined,
      id,
    );
  }
  async delete(id: string) {
    await this.call('DELETE', `/v1/guests/${encodeURIComponent(id)}`, undefined, id);
  }
  async setBalloon(id: string, targetMiB: number) {
    await this.call('PUT', `/v1/guests/${encodeURIComponent(id)}/balloon`, { targetMiB }, id);
  }
  metrics(id: string) {
    return this.call<GuestMetrics>('GET', `/v1/guests/${encodeURIComponent(id)}/metrics`, undefined, id);
  }
  /** A running guest's memory profile, measured by its agent (the fingerprint is checked here). */
  async memoryProfile(id: string, o: { sampleBits?: number } = {}): Promise<GuestMemoryProfile> {
    const q = o.sampleBits !== undefined ? `?sampleBits=${encodeURIComponent(String(o.sampleBits))}` : '';
    const p = await this.call<unknown>(
      'GET',
      `/v1/guests/${encodeURIComponent(id)}/memory-profile${q}`,
      undefined,
      id,
    );
    const errs = checkMemoryProfile(p);
    if (errs.length)
      throw new DriverError(
        'BACKEND',
        `The agent sent a bad memory profile: ${errs.slice(0, 3).join('; ')}`,
        id,
      );
    return p as GuestMemoryProfile;
  }

  /** The end of a guest's serial console log. */
  consoleLog(id: string, options: ConsoleLogOptions = {}) {
    return this.call<ConsoleLog>(
      'GET',
      `/v1/guests/${encodeURIComponent(id)}/console?tail=${consoleTailBytes(options)}`,
      undefined,
      id,
    );
  }
  /** The guest's serial port, through a WebSocket to its agent. */
  openConsole(id: string) {
    return openAgentConsole(this.url, id, this.token, this.tls);
  }

  /** Live-migrate a guest to another host's agent (the agents stream to each other). */
  async migrate(id: string, target: HostRef, request: MigrateRequest): Promise<MigrationReport> {
    if (target.driver !== 'qemu' || !target.agentUrl)
      throw new DriverError(
        'BAD_SPEC',
        `Cannot migrate guest "${id}" to ${target.name}: it is a ${target.driver} host${target.agentUrl ? '' : ' without an agent URL'}; only hosts with an agent receive`,
        id,
      );
    // The destination issues a one-time ticket for this guest (asked with its own credential, which
    // the source agent never sees), bound to the source's address when its URL names an IP.
    const destination = new AgentDriver(target.agentUrl, target.agentCredential ?? undefined, this.tls);
    const { ticket } = await destination.issueTicket(id, ipOf(this.url));
    return this.call<MigrationReport>(
      'POST',
      `/v1/guests/${encodeURIComponent(id)}/migrate`,
      {
        destination: target.agentUrl,
        ...migrationBody(request),
        destinationTicket: ticket,
      },
      id,
    );
  }

  /**
   * Ask this agent (as a migration's destination) for a one-time ticket that lets a source agent
   * send it guest `id`, and nothing else.
   */
  issueTicket(id: string, sourceAddress?: string): Promise<{ ticket: string; expiresAt: string }> {
    return this.call(
      'POST',
      '/v1/incoming-tickets',
      { guestId: id, ...(sourceAddress ? { sourceAddress } : {}) },
      id,
    );
  }

  /** Run the agent's power-control command for a host (this one, or a switched-off neighbour). */
  power(action: 'on' | 'off', target: HostRef): Promise<PowerResult> {
    return this.call<PowerResult>('POST', '/v1/host/power', {
      action,
      host: target.name,
      ...(target.powerAddress ? { address: target.powerAddress } : {}),
    });
  }

  /** Push the host's desired network state (the agent's `PUT /v1/network` converges to it). */
  async applyNetwork(state: HostNetworkState): Promise<void> {
    await this.call<unknown>('PUT', '/v1/network', state);
  }

  // Storage (docs/storage.md): the agent keeps volumes as qcow2 files in its pools' folders.
  createVolume(spec: VolumeSpec): Promise<HostVolume> {
    return this.call<HostVolume>('POST', '/v1/volumes', spec);
  }
  async deleteVolume(pool: string, id: string): Promise<void> {
    await this.call('DELETE', `/v1/volumes/${encodeURIComponent(pool)}/${encodeURIComponent(id)}`);
  }
  listVolumes(pool: string): Promise<HostVolume[]> {
    return this.call<HostVolume[]>('GET', `/v1/volumes/${encodeURIComponent(pool)}`);
  }
  async snapshotVolume(pool: string, id: string, name: string): Promise<void> {
    await this.call('POST', `/v1/volumes/${encodeURIComponent(pool)}/${encodeURIComponent(id)}/snapshots`, {
      name,
    });
  }
  async deleteVolumeSnapshot(pool: string, id: string, name: string): Promise<void> {
    await this.call(
      'DELETE',
      `/v1/volumes/${encodeURIComponent(pool)}/${encodeURIComponent(id)}/snapshots/${encodeURIComponent(name)}`,
    );
  }
  async attachVolume(guestId: string, disk: GuestDisk): Promise<void> {
    await this.call('POST', `/v1/guests/${encodeURIComponent(guestId)}/disks`, disk, guestId);
  }
  async detachVolume(guestId: string, volumeId: string): Promise<void> {
    await this.call(
      'DELETE',
      `/v1/guests/${encodeURIComponent(guestId)}/disks/${encodeURIComponent(volumeId)}`,
      undefined,
      guestId,
    );
  }
  async close() {}
}
