/** Tiny guests with QEMU user networking, a metadata server for them, and SSH/TCP clients for tests. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tinyGuest, type TinyGuest } from './guest.ts';

/** The tiny guest if it has networking (guest/net.sh inside), or why networked guest tests cannot run. */
export function netGuest(): TinyGuest | string {
  const require = process.env.NUBIS_REQUIRE_QEMU === '1';
  const fail = (why: string) => {
    if (require) throw new Error(`QEMU network tests required but ${why}`);
    return why;
  };
  const g = tinyGuest();
  if (typeof g === 'string') return g;
  if (spawnSync('ssh', ['-V']).status !== 0 || spawnSync('ssh-keygen', ['--help']).error)
    return fail('ssh/ssh-keygen are not installed (openssh-client, scripts/install-host-deps.sh)');
  const cpio = gunzipSync(readFileSync(g.initrd));
  if (!cpio.includes('etc/nubis/net.sh') || !cpio.includes('usr/sbin/dropbear'))
    return fail('the tiny guest has no networking or no dropbear: rebuild it (bash scripts/build-guest.sh)');
  return g;
}

/** A free TCP port on 127.0.0.1 (for QEMU's hostfwd). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A metadata server: path → body (404 for any other path), listening on 127.0.0.1. */
export async function metadataServer(
  paths: Record<string, string>,
): Promise<{ port: number; server: Server }> {
  const server = createHttpServer((req, res) => {
    const body = paths[req.url ?? ''];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'text/plain' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, server };
}

/** A fresh ed25519 key pair in DIR: the private key's path and the public key's text. */
export function sshKey(dir: string, name: string): { path: string; publicKey: string } {
  const path = join(dir, name);
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/**
 * Run COMMAND over SSH as root on HOST:PORT (default 127.0.0.1) with KEY (no host key checks: the guest
 * is new); `netns` runs the client in that network namespace.
 */
export function ssh(
  port: number,
  key: string,
  command: string,
  o: { host?: string; netns?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = [
    ...[
      '-i',
      key,
      '-p',
      String(port),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
    ],
    ...['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'ConnectTimeout=30', '-o', 'LogLevel=ERROR'],
    ...['-F', '/dev/null', `root@${o.host ?? '127.0.0.1'}`, command],
  ];
  const [cmd, ...argv] = o.netns ? ['ip', 'netns', 'exec', o.netns, 'ssh', ...args] : ['ssh', ...args];
  return new Promise((resolve) => {
    const p = spawn(cmd!, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Send TEXT to 127.0.0.1:PORT and collect what comes back until TEXT's length has arrived (or 20 s). */
export function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const c = createConnection({ host: '127.0.0.1', port }, () => c.write(text));
    const t = setTimeout(() => {
      c.destroy();
      resolve(got);
    }, 20_000);
    c.on('data', (d) => {
      got += d;
      if (got.length >= text.length) {
        clearTimeout(t);
        c.end();
        resolve(got);
      }
    });
    c.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** A running tiny guest: its QEMU process, serial log and the host ports forwarded to it. */
export interface NetGuest {
  proc: ChildProcess;
  dir: string;
  serialLog: string;
  serialSocket: string;
  ports: Record<number, number>;
  stop(): Promise<void>;
}

/**
 * Boot the tiny guest under TCG with user networking (slirp: guest 10.0.2.15, host 10.0.2.2), forwarding
 * a free host port to each of GUEST_PORTS; the serial port is a socket (`serialSocket`) logged to `serialLog`.
 * `net: false` boots with no NIC at all; `tap: IFNAME` attaches the NIC to that tap device instead, with
 * QEMU run in network namespace `netns`.
 */
export async function bootNetGuest(
  g: TinyGuest,
  o: { append: string; guestPorts?: number[]; net?: boolean; tap?: string; netns?: string },
): Promise<NetGuest> {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-gnet-'));
  const ports: Record<number, number> = {};
  for (const p of o.guestPorts ?? []) ports[p] = await freePort();
  const fwd = Object.entries(ports).map(([gp, hp]) => `,hostfwd=tcp:127.0.0.1:${hp}-:${gp}`);
  const serialLog = join(dir, 'serial.log'),
    serialSocket = join(dir, 'serial.sock');
  const args = [
    ...['-machine', 'q35,accel=tcg', '-cpu', 'qemu64', '-m', '256', '-display', 'none', '-nodefaults'],
    ...['-chardev', `socket,id=s0,path=${serialSocket},server=on,wait=off,logfile=${serialLog}`],
    ...['-serial', 'chardev:s0', '-kernel', g.kernel, '-initrd', g.initrd],
    ...['-append', `console=ttyS0 quiet panic=-1 nubis.mib=4 nubis.rate=0 ${o.append}`],
    ...(o.net === false
      ? []
      : o.tap
        ? ['-netdev', `tap,id=n0,ifname=${o.tap},script=no,downscript=no`]
        : ['-netdev', `user,id=n0${fwd.join('')}`]),
    ...(o.net === false ? [] : ['-device', 'virtio-net-pci,netdev=n0']),
  ];
  const [cmd, ...argv] = o.netns
    ? ['ip', 'netns', 'exec', o.netns, 'qemu-system-x86_64', ...args]
    : ['qemu-system-x86_64', ...args];
  const proc = spawn(cmd!, argv, { stdio: 'ignore' });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { proc, dir, serialLog, serialSocket, ports, stop };
}
