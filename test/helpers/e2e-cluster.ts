/**
 * A real nubis cloud for end-to-end tests: `nubis serve` on the bridge of two network-namespace hosts
 * (scripts/netns-hosts.sh), and in each host a real agent enrolled with a join token, under QEMU (TCG).
 * Tests drive it through the CLI (`nubis … --json`) as the admin or as a tenant's member.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_DIR } from './guest.ts';
import { root, sh } from './net-hosts.ts';

/** The two hosts, their namespace addresses (scripts/netns-hosts.sh). */
export const HOSTS = { a: '10.77.0.1', b: '10.77.0.2' } as const;
export type HostKey = keyof typeof HOSTS;
const ADMIN = 'e2e-admin';
const bin = join(root, 'bin/nubis.js');
/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the first group of the first match of RE in PROC's stdout (its stderr is echoed). */
export function waitFor(proc: ChildProcess, re: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = re.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr!.on('data', (d) => process.stderr.write(d));
    proc.on('exit', (c) => reject(new Error(`${what} exited (${c}): ${out}`)));
  });
}

/** Polls `check` every 500 ms until it returns a value; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 180_000,
): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

/** What `start` sets up. */
export interface ClusterOptions {
  /** Extra `nubis agent` arguments of host K (e.g. `--pool NAME=DIR`), given its state folder. */
  agentArgs?: (k: HostKey, stateDir: string) => string[];
  /** Run before the agents enroll (e.g. create storage pools as the admin). */
  beforeAgents?: (c: E2eCluster) => Promise<void>;
}

/**
 * One control plane and two agents. Create it at the top of a test file, register `stop` with
 * `after`, and `start` it inside the test (a failed start is cleaned up by `stop` all the same).
 */
export class E2eCluster {
  /** A scratch folder for the test, removed by `stop`. */
  readonly tmp: string;
  /** The netns prefix (unique per process). */
  readonly prefix: string;
  /** Each agent's state folder (its guests, its image cache in `images-cache`). */
  readonly stateDirs: Record<HostKey, string>;
  /** The control plane's URL, once started. */
  url = '';
  private readonly procs: ChildProcess[] = [];
  private up = false;

  constructor(tag: string) {
    this.prefix = `${tag}${process.pid % 10000}`;
    this.tmp = mkdtempSync(join(tmpdir(), `nubis-${tag}-`));
    this.stateDirs = { a: join(this.tmp, 'host-a'), b: join(this.tmp, 'host-b') };
  }

  /** Brings up the hosts, `nubis serve` and the two enrolled agents (`host-a`, `host-b`), all `up`. */
  async start(o: ClusterOptions = {}): Promise<void> {
    this.up = true;
    const up = sh(['bash', join(root, 'scripts/netns-hosts.sh'), 'up', '1gbit', this.prefix], 960_000);
    assert.equal(up.code, 0, up.out);
    const serve = spawn(
      process.execPath,
      // prettier-ignore
      [bin, 'serve', '--host', '10.77.0.254', '--port', '0', '--data', join(this.tmp, 'data'), '--demo-hosts', '0',
        '--sim-load-interval-s', '0', '--rate-limit', '0'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: ADMIN } },
    );
    this.procs.push(serve);
    this.url = await waitFor(serve, /control plane on (http:\/\/[^ ]+)/, 'nubis serve');
    await o.beforeAgents?.(this);
    for (const k of ['a', 'b'] as const) {
      mkdirSync(this.stateDirs[k]);
      const jt = (await this.admin('host', 'join-token', 'create')).token as string;
      const p = spawn(
        'ip',
        // prettier-ignore
        ['netns', 'exec', `${this.prefix}-${k}`, process.execPath, bin, 'agent', '--state', this.stateDirs[k],
          '--listen', `${HOSTS[k]}:7070`, '--join', this.url, '--name', `host-${k}`, '--underlay-ip', HOSTS[k],
          '--accel', 'tcg', '--heartbeat-s', '1', '--memory-interval-s', '0', '--guest-dir', GUEST_DIR,
          ...(o.agentArgs?.(k, this.stateDirs[k]) ?? [])],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NUBIS_JOIN_TOKEN: jt } },
      );
      this.procs.push(p);
      await waitFor(p, /listening on (http:\/\/[^ ]+)/, `agent host-${k}`);
    }
    await until('two hosts up', async () => {
      const hosts = (await this.admin('host', 'list')) as { state: string }[];
      return hosts.filter((h) => h.state === 'up').length === 2 ? true : undefined;
    });
  }

  /** `nubis ARGS` as the holder of TOKEN: exit code and output. */
  cli(token: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [bin, ...args], {
        cwd: root,
        // prettier-ignore
        env: { ...process.env, NUBIS_URL: this.url, NUBIS_TOKEN: token, NUBIS_CREDENTIALS: join(this.tmp, 'none') },
      });
      let out = '',
        err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    });
  }

  /** A CLI call that must succeed; its parsed JSON output (with --json). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON, read field by field
  async ok(token: string, ...args: string[]): Promise<any> {
    const r = await this.cli(token, ...args, '--json');
    assert.equal(r.code, 0, `nubis ${args.join(' ')}: ${r.err}${r.out}`);
    return r.out.trim() ? JSON.parse(r.out) : undefined;
  }

  /** A CLI call as the admin that must succeed (see `ok`). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON, read field by field
  admin(...args: string[]): Promise<any> {
    return this.ok(ADMIN, ...args);
  }

  /** A new tenant NAME with one member; that member's API token. */
  async tenantToken(name: string): Promise<string> {
    await this.admin('tenant', 'create', name);
    const u = await this.admin('user', 'create', `${name}-user`, '--tenant', name, '--role', 'member');
    const file = join(this.tmp, `${name}.token`);
    await this.admin('token', 'create', '--name', name, '--user', u.id, '--output', file);
    return readFileSync(file, 'utf8').trim();
  }

  /** Which host (a or b) a host id is, by the names the agents enrolled with. */
  async hostKey(hostId: string): Promise<HostKey> {
    const hosts = (await this.admin('host', 'list')) as { id: string; name: string }[];
    const name = hosts.find((h) => h.id === hostId)?.name;
    assert.ok(name === 'host-a' || name === 'host-b', `host ${hostId} is one of the two`);
    return name === 'host-a' ? 'a' : 'b';
  }

  /**
   * Kills the processes, the guests and dnsmasq it started (by their pid files), removes the agents'
   * data-plane namespaces, the hosts and the scratch folder.
   */
  async stop(): Promise<void> {
    for (const p of this.procs) p.kill('SIGKILL');
    if (this.up) {
      for (const dir of Object.values(this.stateDirs))
        for (const f of sh(['find', dir, '-name', '*.pid']).out.split('\n').filter(Boolean))
          try {
            process.kill(Number(readFileSync(f, 'utf8')), 'SIGKILL');
          } catch {
            /* gone */
          }
      for (const ip of Object.values(HOSTS))
        for (const n of sh(['ip', 'netns', 'list']).out.split('\n'))
          if (n.startsWith(`nubis-${ip}-n`)) sh(['ip', 'netns', 'del', n.split(' ')[0]!]);
      sh(['bash', join(root, 'scripts/netns-hosts.sh'), 'down', this.prefix]);
    }
    rmSync(this.tmp, { recursive: true, force: true });
  }
}
