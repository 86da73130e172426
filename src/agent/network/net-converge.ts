/**
 * Converges this host's network plumbing to a `HostNetworkState` (declarative and idempotent: every
 * run compares with what the kernel has, so a crash half-way is repaired by the next run). Per
 * network: a bridge, a VXLAN device (head-end replication to the peers), a namespace joined to the
 * bridge by a veth holding the gateway (same IP and MAC on every host: a distributed router), dnsmasq
 * and the metadata server there, and a second veth for floating-IP traffic. Per port: a tap (created
 * when missing so QEMU can open it) and its nftables chains (nft-rules.ts). Commands are argv arrays:
 * nothing from a state ever becomes a shell string.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { HostNetworkState, NetworkPlumbing, PortPlumbing } from '../../core/network/host-network.ts';
import { emptyHostNetworkState } from '../../core/network/host-network.ts';
import { dhcpHosts, dnsmasqConf, METADATA_SERVER_JS, metadataFile, serverIp } from './dhcp-metadata.ts';
import { netNames, nsPrefix, parseCidr } from './net-state.ts';
import { hostRuleset, METADATA_IP, namespaceRuleset } from './nft-rules.ts';

/** Host end of every floating-IP veth, and the namespace end (link-local, the same on every network). */
const FIP_HOST_IP = '169.254.0.1';
const FIP_NS_IP = '169.254.0.2';

export interface NetworkAgentOptions {
  /** Folder of the agent's network state (the last accepted state, per-network files). */
  stateDir: string;
  /** This host's underlay address (VXLAN source, floating IPs' proxy ARP on its device). */
  underlayIp: string;
  /** Does the guest run on this host (not an incoming migration)? Its floating IP is active only then. */
  guestHere: (guestId: string) => boolean;
}

/** What a command gave back. */
interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: string[], input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = execFile(argv[0]!, argv.slice(1), { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) p.stdin!.end(input);
  });
}

async function must(argv: string[], input?: string): Promise<string> {
  const r = await run(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

function alive(pidFile: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) return null;
    // Alive, not a zombie, and still ours (a pid may have been reused): /proc/PID/stat is
    // "PID (COMM) STATE ...".
    const m = /^\d+ \((.*)\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return m && m[2] !== 'Z' && ['dnsmasq', basename(process.execPath).slice(0, 15)].includes(m[1]!)
      ? pid
      : null;
  } catch {
    return null;
  }
}

function stop(pidFile: string): void {
  const pid = alive(pidFile);
  if (pid) process.kill(pid, 'SIGKILL');
  rmSync(pidFile, { force: true });
}

function noIpv6(dev: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, '1');
  } catch {
    /* no IPv6 in this kernel, or the device is gone */
  }
}

/** Writes a file if its content changed; says whether it did. */
function writeIfChanged(path: string, content: string): boolean {
  try {
    if (readFileSync(path, 'utf8') === content) return false;
  } catch {
    /* new */
  }
  writeFileSync(path, content);
  return true;
}

/**
 * A gratuitous ARP for an address this host answers for without holding it (busybox arping binds its
 * probe socket to the source address, so non-local binds are allowed for that moment only).
 */
async function garp(dev: string, ip: string): Promise<void> {
  const knob = '/proc/sys/net/ipv4/ip_nonlocal_bind';
  const was = readFileSync(knob, 'utf8').trim();
  writeFileSync(knob, '1');
  try {
    // One unsolicited request and one unsolicited reply (hosts differ in which one they learn from).
    await run(['busybox', 'arping', '-U', '-c', '1', '-I', dev, '-s', ip, ip]);
    await run(['busybox', 'arping', '-A', '-c', '1', '-I', dev, '-s', ip, ip]);
  } finally {
    writeFileSync(knob, was);
  }
}

/** Does the guest of this folder run on this host (it exists and is not an incoming migration)? */
export function guestRunsHere(guestDir: string): boolean {
  try {
    return readFileSync(join(guestDir, 'desired'), 'utf8').trim() !== 'incoming';
  } catch {
    return false;
  }
}

/** The data plane of one host, driven by `PUT /v1/network`. */
export class NetworkAgent {
  private state: HostNetworkState;
  private chain: Promise<unknown> = Promise.resolve();
  /** Floating IPs this host answers for now (a newly taken one is announced with a gratuitous ARP). */
  private activeFips = new Set<string>();

  constructor(readonly o: NetworkAgentOptions) {
    mkdirSync(o.stateDir, { recursive: true });
    try {
      this.state = JSON.parse(readFileSync(join(o.stateDir, 'state.json'), 'utf8')) as HostNetworkState;
    } catch {
      this.state = emptyHostNetworkState();
    }
  }

  /** The last accepted state. */
  get current(): HostNetworkState {
    return this.state;
  }

  /**
   * Accepts a (validated) state unless it is older than the one held, then converges to it.
   * @returns whether it was applied
   */
  apply(s: HostNetworkState): Promise<{ applied: boolean; revision: number }> {
    return this.serial(async () => {
      if (s.revision < this.state.revision) return { applied: false, revision: this.state.revision };
      this.state = s;
      writeFileSync(join(this.o.stateDir, 'state.json'), JSON.stringify(s));
      await this.converge(s);
      return { applied: true, revision: s.revision };
    });
  }

  /** Converges again to the held state (after a guest arrived, left, started or was deleted). */
  reconcile(): Promise<void> {
    // An agent never given a network state leaves the host's networking alone.
    if (!this.managed) return Promise.resolve();
    return this.serial(() => this.converge(this.state));
  }

  /** Has this agent been given a network state (now or before a restart)? */
  get managed(): boolean {
    return existsSync(join(this.o.stateDir, 'state.json'));
  }

  /**
   * Takes the floating IPs of the guests that now run here, and only that (a guest just arrived: its
   * traffic must come here before the rest of the plumbing is checked again).
   */
  takeFloatingIps(): Promise<void> {
    if (!this.managed) return Promise.resolve();
    return this.serial(() => this.floatingIps(this.state));
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f, f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async converge(s: HostNetworkState): Promise<void> {
    const u = this.o.underlayIp;
    for (const [k, v] of [
      ['net/ipv4/ip_forward', '1'],
      ['net/bridge/bridge-nf-call-iptables', '1'],
    ] as const)
      try {
        writeFileSync(`/proc/sys/${k}`, v);
      } catch {
        /* br_netfilter missing: checked below by the rules that need it */
      }
    const links = new Set(
      (JSON.parse(await must(['ip', '-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname),
    );
    const namespaces = new Set(
      (JSON.parse((await must(['ip', '-j', 'netns', 'list'])) || '[]') as { name: string }[]).map(
        (n) => n.name,
      ),
    );
    const nets = new Map(s.networks.map((n) => [n.id, n]));
    const want = new Set<string>();
    const wantNs = new Set<string>();
    for (const n of s.networks) {
      const nm = netNames(n.vni, u);
      [nm.bridge, nm.vxlan, nm.gwVeth, nm.fipVeth].forEach((x) => want.add(x));
      wantNs.add(nm.ns);
    }
    for (const p of s.ports) want.add(p.tap);

    // Remove what is no longer wanted (or was left by a crash).
    for (const name of namespaces)
      if (name.startsWith(nsPrefix(u)) && !wantNs.has(name)) {
        const dir = join(this.o.stateDir, name.slice(nsPrefix(u).length));
        stop(join(dir, 'dnsmasq.pid'));
        stop(join(dir, 'metadata.pid'));
        await run(['ip', 'netns', 'del', name]);
        rmSync(dir, { recursive: true, force: true });
      }
    for (const l of links)
      if (/^(nb|nx|ng|nf)[0-9a-f]{1,6}$|^nt[0-9a-f]{8}$/.test(l) && !want.has(l))
        await run(['ip', 'link', 'del', l]);

    for (const n of s.networks) {
      const ports = s.ports.filter((p) => p.networkId === n.id);
      await this.plumbNetwork(n, ports, links, namespaces);
    }
    for (const p of s.ports) {
      const n = nets.get(p.networkId)!;
      if (!links.has(p.tap)) await must(['ip', 'tuntap', 'add', p.tap, 'mode', 'tap']);
      await must([
        'ip',
        'link',
        'set',
        p.tap,
        'master',
        netNames(n.vni, u).bridge,
        'mtu',
        String(n.mtu),
        'up',
      ]);
    }
    // No IPv6 on the plumbing (the data plane is IPv4): no stray router solicitations and MLD reports.
    for (const d of want) noIpv6(d);
    const empty = !s.networks.length && !s.ports.length;
    await must(
      ['nft', '-f', '-'],
      empty
        ? 'table bridge nubis {}\ndelete table bridge nubis\ntable inet nubis {}\ndelete table inet nubis\n'
        : hostRuleset(s.networks, s.ports, u),
    );
    await this.floatingIps(s);
  }

  private async plumbNetwork(
    n: NetworkPlumbing,
    ports: PortPlumbing[],
    links: Set<string>,
    namespaces: Set<string>,
  ): Promise<void> {
    const nm = netNames(n.vni, this.o.underlayIp);
    const mtu = String(n.mtu);
    if (!links.has(nm.bridge)) await must(['ip', 'link', 'add', nm.bridge, 'type', 'bridge']);
    await must(['ip', 'link', 'set', nm.bridge, 'mtu', mtu, 'up']);
    if (!links.has(nm.vxlan))
      await must([
        'ip', 'link', 'add', nm.vxlan, 'type', 'vxlan', 'id', String(n.vni), 'local', this.o.underlayIp,
        'dstport', '4789', 'learning',
      ]); // prettier-ignore
    await must(['ip', 'link', 'set', nm.vxlan, 'master', nm.bridge, 'mtu', mtu, 'up']);
    // Head-end replication: one all-zeros FDB entry per peer.
    const fdb = JSON.parse(await must(['bridge', '-j', 'fdb', 'show', 'dev', nm.vxlan])) as {
      mac: string;
      dst?: string;
    }[];
    const have = new Set(fdb.filter((e) => e.mac === '00:00:00:00:00:00' && e.dst).map((e) => e.dst!));
    for (const peer of n.peers)
      if (!have.has(peer))
        await must(['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', nm.vxlan, 'dst', peer]);
    for (const peer of have)
      if (!n.peers.includes(peer))
        await must(['bridge', 'fdb', 'del', '00:00:00:00:00:00', 'dev', nm.vxlan, 'dst', peer]);

    // The network's namespace, the gateway's veth and the floating-IP veth.
    const ns = nm.ns;
    if (!namespaces.has(ns)) await must(['ip', 'netns', 'add', ns]);
    const inNs = (argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv];
    await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    await must(
      inNs([
        'sysctl',
        '-q',
        '-w',
        'net.ipv6.conf.all.disable_ipv6=1',
        'net.ipv6.conf.default.disable_ipv6=1',
      ]),
    );
    await must(inNs(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
    if (!links.has(nm.gwVeth)) {
      await run(['ip', '-n', ns, 'link', 'del', 'gw']);
      await must(['ip', 'link', 'add', nm.gwVeth, 'type', 'veth', 'peer', 'name', 'gw', 'netns', ns]);
    }
    await must(['ip', 'link', 'set', nm.gwVeth, 'master', nm.bridge, 'mtu', mtu, 'up']);
    await must(['ip', '-n', ns, 'link', 'set', 'gw', 'address', nm.gwMac, 'mtu', mtu, 'up']);
    const prefix = parseCidr(n.cidr)!.prefix;
    await must(['ip', '-n', ns, 'addr', 'replace', `${serverIp(n)}/${prefix}`, 'dev', 'gw']);
    await must(['ip', '-n', ns, 'addr', 'replace', `${METADATA_IP}/32`, 'dev', 'gw']);
    if (!links.has(nm.fipVeth)) {
      await run(['ip', '-n', ns, 'link', 'del', 'ext']);
      await must(['ip', 'link', 'add', nm.fipVeth, 'type', 'veth', 'peer', 'name', 'ext', 'netns', ns]);
    }
    await must(['ip', 'link', 'set', nm.fipVeth, 'up']);
    await must(['ip', 'addr', 'replace', `${FIP_HOST_IP}/32`, 'dev', nm.fipVeth]);
    await must(['ip', '-n', ns, 'link', 'set', 'ext', 'up']);
    await must(['ip', '-n', ns, 'addr', 'replace', `${FIP_NS_IP}/32`, 'dev', 'ext']);
    await must(['ip', '-n', ns, 'route', 'replace', `${FIP_HOST_IP}/32`, 'dev', 'ext']);
    await must(['ip', '-n', ns, 'route', 'replace', 'default', 'via', FIP_HOST_IP, 'dev', 'ext']);

    // dnsmasq (static leases) and the metadata server.
    const dir = join(this.o.stateDir, n.vni.toString(16));
    mkdirSync(dir, { recursive: true });
    const hostsChanged = writeIfChanged(join(dir, 'dhcp-hosts'), dhcpHosts(ports));
    const confChanged = writeIfChanged(join(dir, 'dnsmasq.conf'), dnsmasqConf(n, dir));
    const dnsmasqPid = join(dir, 'dnsmasq.pid');
    if (!n.dhcp) stop(dnsmasqPid);
    else if (confChanged || !alive(dnsmasqPid)) {
      stop(dnsmasqPid);
      await must(inNs(['dnsmasq', `--conf-file=${join(dir, 'dnsmasq.conf')}`]));
    } else if (hostsChanged) process.kill(alive(dnsmasqPid)!, 'SIGHUP');
    writeIfChanged(join(dir, 'metadata.json'), JSON.stringify(metadataFile(ports)));
    const mdPid = join(dir, 'metadata.pid');
    if (!alive(mdPid)) await this.startMetadata(ns, dir);
  }

  private async startMetadata(ns: string, dir: string): Promise<void> {
    const pidFile = join(dir, 'metadata.pid');
    rmSync(pidFile, { force: true });
    const p = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '-e', METADATA_SERVER_JS, join(dir, 'metadata.json'), pidFile],
      { detached: true, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    p.unref();
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
  }

  /** Floating IPs of the ports whose guest runs here: NAT in the namespace, route and proxy ARP here. */
  private async floatingIps(s: HostNetworkState): Promise<void> {
    const u = this.o.underlayIp;
    const addrs = JSON.parse(await must(['ip', '-j', 'addr', 'show'])) as {
      ifname: string;
      addr_info: { local: string }[];
    }[];
    const dev = addrs.find((a) => a.addr_info.some((i) => i.local === u))?.ifname;
    const active = s.ports.filter((p) => p.floatingIp && this.o.guestHere(p.guestId));
    for (const n of s.networks) {
      const nm = netNames(n.vni, u);
      const fips = active
        .filter((p) => p.networkId === n.id)
        .map((p) => ({ floatingIp: p.floatingIp!, fixedIp: p.ips[0]! }));
      await must(['ip', 'netns', 'exec', nm.ns, 'nft', '-f', '-'], namespaceRuleset(fips));
      for (const f of fips)
        await must([
          'ip',
          'route',
          'replace',
          `${f.floatingIp}/32`,
          'via',
          FIP_NS_IP,
          'dev',
          nm.fipVeth,
          'onlink',
        ]);
    }
    const wanted = new Set(active.map((p) => p.floatingIp!));
    const proxies = JSON.parse(await must(['ip', '-j', 'neigh', 'show', 'proxy'])) as {
      dst: string;
      dev: string;
    }[];
    for (const p of proxies)
      if (!wanted.has(p.dst) || p.dev !== dev)
        await run(['ip', 'neigh', 'del', 'proxy', p.dst, 'dev', p.dev]);
    const routes = JSON.parse(await must(['ip', '-j', 'route', 'show'])) as { dst: string; dev: string }[];
    for (const r of routes)
      if (/^nf[0-9a-f]+$/.test(r.dev) && r.dst !== 'default' && !wanted.has(r.dst))
        await run(['ip', 'route', 'del', r.dst, 'dev', r.dev]);
    if (!dev) return;
    for (const f of wanted) {
      await must(['ip', 'neigh', 'replace', 'proxy', f, 'dev', dev]);
      // A newly taken address (a new floating IP, a guest that just arrived): tell the segment.
      if (!this.activeFips.has(f)) await garp(dev, f);
    }
    this.activeFips = wanted;
  }
}
