/**
 * Two test hosts (network namespaces from scripts/netns-hosts.sh) with an agent in each, for the data
 * plane tests: start them, push network states, run commands in namespaces, clean everything up.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostNetworkState, PortPlumbing } from '../../src/core/network/host-network.ts';
import { tapName } from '../../src/core/network/host-network.ts';
import { GUEST_DIR } from './guest.ts';

export const root = new URL('../..', import.meta.url).pathname;
export const TOKEN = 'net-test-agent-token';

/** Why these tests cannot run here (undefined: they can). */
export function netSkip(): string | undefined {
  const ok =
    process.getuid?.() === 0 &&
    spawnSync('ip', ['netns', 'list']).status === 0 &&
    spawnSync('nft', ['--version']).status === 0 &&
    spawnSync('dnsmasq', ['--version']).status === 0;
  if (!ok && process.env.NUBIS_REQUIRE_QEMU === '1')
    throw new Error('data-plane tests required but not possible here (root, iproute2, nftables, dnsmasq)');
  return ok
    ? undefined
    : 'data-plane tests need root, iproute2, nftables and dnsmasq (scripts/install-host-deps.sh)';
}

/** Runs a command; returns its exit code and output. */
export function sh(argv: string[], timeout = 30_000): { code: number; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout });
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

/** Runs a command in a namespace. */
export const nsx = (ns: string, argv: string[], timeout?: number) =>
  sh(['ip', 'netns', 'exec', ns, ...argv], timeout);

export interface TestHosts {
  prefix: string;
  a: { ns: string; ip: string; url: string; state: string };
  b: { ns: string; ip: string; url: string; state: string };
  put(host: 'a' | 'b', s: HostNetworkState): Promise<{ status: number; body: unknown }>;
  /** Any agent request. */
  call(host: 'a' | 'b', method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  cleanup(): Promise<void>;
}

function agentIn(ns: string, ip: string, state: string, procs: ChildProcess[]): Promise<string> {
  const proc = spawn(
    'ip',
    // prettier-ignore
    ['netns', 'exec', ns, process.execPath, join(root, 'bin/nubis.js'), 'agent', '--state', state,
      '--listen', `${ip}:7070`, '--accel', 'tcg', '--memory-interval-s', '0', '--underlay-ip', ip,
      '--guest-dir', GUEST_DIR],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NUBIS_AGENT_TOKEN: TOKEN } },
  );
  procs.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr!.on('data', (d) => {
      out += d;
      process.stderr.write(d);
    });
    proc.on('exit', (c) => reject(new Error(`agent in ${ns} exited (${c}): ${out}`)));
  });
}

/** Brings up the two hosts and their agents. */
export async function startHosts(prefix: string): Promise<TestHosts> {
  // netns-hosts.sh waits while another test's hosts are up (one set per machine).
  const up = sh(['bash', join(root, 'scripts/netns-hosts.sh'), 'up', '1gbit', prefix], 960_000);
  if (up.code !== 0) throw new Error(`netns-hosts.sh up failed (${up.code}): ${up.out}`);
  const procs: ChildProcess[] = [];
  const sa = mkdtempSync(join(tmpdir(), 'nubis-net-a-'));
  const sb = mkdtempSync(join(tmpdir(), 'nubis-net-b-'));
  let ua: string, ub: string;
  try {
    // One after the other: the first start may rebuild bin/nubis.js's bundle, which two at once race on.
    ua = await agentIn(`${prefix}-a`, '10.77.0.1', sa, procs);
    ub = await agentIn(`${prefix}-b`, '10.77.0.2', sb, procs);
  } catch (e) {
    for (const p of procs) p.kill('SIGKILL');
    sh(['bash', join(root, 'scripts/netns-hosts.sh'), 'down', prefix]);
    rmSync(sa, { recursive: true, force: true });
    rmSync(sb, { recursive: true, force: true });
    throw e;
  }
  const h: TestHosts = {
    prefix,
    a: { ns: `${prefix}-a`, ip: '10.77.0.1', url: ua, state: sa },
    b: { ns: `${prefix}-b`, ip: '10.77.0.2', url: ub, state: sb },
    put: (host, s) => h.call(host, 'PUT', '/v1/network', s),
    async call(host, method, path, body) {
      const r = await fetch(`${h[host].url}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          authorization: `Bearer ${TOKEN}`,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    },
    async cleanup() {
      // An empty state removes every namespace, device, rule and process the agents made.
      for (const k of ['a', 'b'] as const)
        for (const g of (await h.call(k, 'GET', '/v1/guests').catch(() => ({ body: [] }))).body ?? [])
          await h.call(k, 'DELETE', `/v1/guests/${g.id}`).catch(() => {});
      for (const k of ['a', 'b'] as const)
        await h.put(k, { revision: 1e9, networks: [], ports: [] }).catch(() => {});
      for (const p of procs) p.kill('SIGKILL');
      // Guests a failed test left running (QEMU daemonizes): by their pid files.
      for (const dir of [sa, sb])
        for (const f of sh(['find', join(dir, 'guests'), '-name', 'qemu.pid'])
          .out.split('\n')
          .filter(Boolean))
          try {
            process.kill(Number(readFileSync(f, 'utf8')), 'SIGKILL');
          } catch {
            /* gone */
          }
      for (const dir of [sa, sb])
        for (const f of sh(['find', join(dir, 'network'), '-name', '*.pid'])
          .out.split('\n')
          .filter(Boolean))
          try {
            process.kill(Number(readFileSync(f, 'utf8')), 'SIGKILL');
          } catch {
            /* gone */
          }
      for (const ip of ['10.77.0.1', '10.77.0.2'])
        for (const n of sh(['ip', 'netns', 'list']).out.split('\n'))
          if (n.startsWith(`nubis-${ip}-n`)) sh(['ip', 'netns', 'del', n.split(' ')[0]!]);
      sh(['bash', join(root, 'scripts/netns-hosts.sh'), 'down', prefix]);
      rmSync(sa, { recursive: true, force: true });
      rmSync(sb, { recursive: true, force: true });
    },
  };
  return h;
}

/** A port with the defaults the tests use. */
export function port(
  id: string,
  networkId: string,
  mac: string,
  ip: string,
  extra: Partial<PortPlumbing> = {},
): PortPlumbing {
  return {
    id,
    guestId: `vm-${id}`,
    networkId,
    tap: tapName(id),
    mac,
    ips: [ip],
    rules: [
      { direction: 'egress', protocol: 'any', portMin: null, portMax: null, remoteCidrs: ['0.0.0.0/0'] },
      { direction: 'ingress', protocol: 'icmp', portMin: null, portMax: null, remoteCidrs: ['0.0.0.0/0'] },
    ],
    floatingIp: null,
    metadata: {
      instanceId: `vm-${id}`,
      hostname: `host-${id}`,
      publicKeys: { k1: `ssh-ed25519 AAAA${id} test` },
      userData: `#!/bin/sh\necho ${id}\n`,
      availabilityZone: 'az1',
    },
    ...extra,
  };
}
