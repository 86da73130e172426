/** `nubis agent`: run the host agent (standalone, or reporting to a control plane). */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { NubisClient, type ApiError } from '../client/index.ts';
import { buildAgentServer, hostFacts } from '../agent/agent-server.ts';
import { guestRunsHere, NetworkAgent } from '../agent/network/net-converge.ts';
import { boundUrl, checkListenHost, isLoopback, noTokenMessage } from '../agent/listen-guard.ts';
import { MemoryManager } from '../agent/memory-manager.ts';
import { ProfileCollector } from '../agent/profile-collector.ts';
import { ImageCache } from '../drivers/qemu/image-cache.ts';
import { probeAccel, QemuDriver } from '../drivers/qemu/qemu-driver.ts';
import { HostPools, parsePoolFlag } from '../drivers/qemu/storage-pools.ts';
import { enrollAgent, readEnrollment, type AgentEnrollment } from './agent-enroll.ts';
import { pinnedFetch } from './pinned-fetch.ts';

export function agentCommand(program: Command): void {
  program
    .command('agent')
    .description('Run the host agent: QEMU guests on this host, controlled over HTTP')
    .option('--state <dir>', 'state folder (guests, pid files, QMP sockets)', '.nubis/agent')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port)', '127.0.0.1:7070')
    .option(
      '--join <url>',
      'control plane to enroll with (once, with NUBIS_JOIN_TOKEN) and send heartbeats to',
    )
    .option('--control-plane <url>', 'same as --join')
    .addOption(new Option('--join-token <token>').hideHelp())
    .option(
      '--join-token-file <file>',
      'read the one-time join token from `nubis host join-token create` from this file (mode 0600; or NUBIS_JOIN_TOKEN); the credentials go to STATE/enrollment.json (0600)',
    )
    .option(
      '--advertise-url <url>',
      'URL the control plane reaches this agent at, bound at enrollment (default: the address it listens on)',
    )
    .addOption(new Option('--token <token>').hideHelp())
    .option(
      '--token-file <file>',
      "read the token required on this agent's API from this file (mode 0600; or NUBIS_AGENT_TOKEN); an enrolled agent requires its own credential",
    )
    .option(
      '--migration-source-dirs <dirs>',
      "comma-separated folders where incoming migrations find a guest's disk (other agents' state folders here or on shared storage; the same file is then used, otherwise the disk is mirrored live over NBD; default: the folder holding --state)",
    )
    .option(
      '--tls-cert <file>',
      'serve HTTPS with this PEM certificate (signed by the CA the control plane pins with --agent-ca)',
    )
    .option('--tls-key <file>', 'PEM key of --tls-cert')
    .option('--tls-client-ca <file>', 'mutual TLS: require client certificates signed by this PEM CA')
    .option(
      '--control-plane-ca <file>',
      "trust only this PEM CA for the control plane's https:// URL (enrollment, heartbeats; plain HTTP is then refused); with --tls-cert, that certificate is also presented to a control plane that requires client certificates",
    )
    .option(
      '--peer-ca <file>',
      "migrations: trust only this PEM CA for other agents' https:// URLs (and send tickets over HTTPS only)",
    )
    .option(
      '--peer-cert <file>',
      'migrations: PEM client certificate (with clientAuth) to present to agents that require mutual TLS',
    )
    .option('--peer-key <file>', 'PEM key of --peer-cert')
    .option('--accel <accel>', 'auto (probe boot decides), kvm or tcg', 'auto')
    .option('--guest-dir <dir>', 'tiny guest used for the KVM probe boot', '.nubis/guest')
    .option('--heartbeat-s <s>', 'seconds between heartbeats', '5')
    .option('--memory-interval-s <s>', 'seconds between balloon/KSM rounds (0: off)', '10')
    .option(
      '--memory-profile-interval-s <s>',
      "seconds between guests' memory profiles (page fingerprints) sent with the heartbeat (0: never)",
      '300',
    )
    .option('--name <name>', "host name reported to the control plane (default: the machine's hostname)")
    .option('--images-dir <dir>', 'folder of NAME.qcow2 disk images the control plane may ask for')
    .option(
      '--pool <NAME=DIR[:shared]>',
      'a storage pool: volumes of pool NAME live in DIR (":shared": a folder every host of the zone sees); repeatable',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      '--image-cache <dir>',
      'folder of registry images downloaded from the control plane, by checksum (default: STATE/images-cache)',
    )
    .option(
      '--image-cache-max-gib <n>',
      'keep the image cache under N GiB: the least recently used images no disk is backed by make room (default: no limit)',
    )
    .option('--migration-address <ip>', 'address incoming migrations listen on (default: the --listen host)')
    .option(
      '--underlay-ip <ip>',
      "this host's underlay address: VXLAN source, floating IPs' device (default: the --migration-address)",
    )
    .option(
      '--fence-after-s <s>',
      'stop every guest when the control plane has been unreachable this long (match its host failure timeout; 0: never)',
      '30',
    )
    .option(
      '--health-file <file>',
      'a file a hardware monitor writes: "ok", or "degraded: REASON" to have this host drained before it fails',
    )
    .option('--manage-ksm', 'turn KSM on under memory pressure and off when relaxed')
    .option(
      '--power-command <cmd>',
      'shell command that switches hosts on/off (ipmitool, wakeonlan...); gets $NUBIS_POWER_ACTION, $NUBIS_POWER_HOST, $NUBIS_POWER_ADDRESS',
    )
    .action(
      async (o: {
        powerCommand?: string;
        state: string;
        listen: string;
        controlPlane?: string;
        join?: string;
        joinToken?: string;
        joinTokenFile?: string;
        advertiseUrl?: string;
        tlsCert?: string;
        tlsKey?: string;
        tlsClientCa?: string;
        controlPlaneCa?: string;
        peerCa?: string;
        peerCert?: string;
        peerKey?: string;
        token?: string;
        tokenFile?: string;
        migrationSourceDirs?: string;
        accel: string;
        guestDir: string;
        heartbeatS: string;
        memoryIntervalS: string;
        memoryProfileIntervalS: string;
        manageKsm?: boolean;
        migrationAddress?: string;
        name?: string;
        imagesDir?: string;
        fenceAfterS: string;
        healthFile?: string;
        underlayIp?: string;
        pool: string[];
        imageCache?: string;
        imageCacheMaxGib?: string;
      }) => {
        if (o.token !== undefined) throw new AgentArgvError(AGENT_TOKEN_ON_ARGV);
        if (o.joinToken !== undefined) throw new AgentArgvError(JOIN_TOKEN_ON_ARGV);
        if (!['auto', 'kvm', 'tcg'].includes(o.accel))
          throw new RangeError(`--accel must be auto, kvm or tcg, got "${o.accel}"`);
        if (!(Number(o.memoryProfileIntervalS) >= 0))
          throw new RangeError(
            `--memory-profile-interval-s must be a number ≥ 0, got "${o.memoryProfileIntervalS}"`,
          );
        const m = /^(.+):(\d+)$/.exec(o.listen);
        if (!m) throw new RangeError(`--listen must be host:port, got "${o.listen}"`);
        const controlPlane = (o.join ?? o.controlPlane)?.replace(/\/+$/, '');
        const joinToken = o.joinTokenFile
          ? readTokenFile(o.joinTokenFile, '--join-token-file')
          : process.env.NUBIS_JOIN_TOKEN;
        if (!!o.tlsCert !== !!o.tlsKey) throw new RangeError('--tls-cert and --tls-key go together');
        if (o.tlsClientCa && !o.tlsCert)
          throw new RangeError('--tls-client-ca needs --tls-cert and --tls-key');
        if (o.controlPlaneCa && !controlPlane)
          throw new RangeError('--control-plane-ca needs --join (or --control-plane) with an https:// URL');
        if (o.controlPlaneCa && !controlPlane!.startsWith('https://'))
          throw new RangeError(
            `--control-plane-ca pins the CA of an https:// control plane; ${controlPlane} is not one (serve it with nubis serve --tls-cert)`,
          );
        // The control plane's CA, pinned; the agent's certificate doubles as its client certificate.
        const cpFetch = o.controlPlaneCa
          ? pinnedFetch({
              ca: readFileSync(o.controlPlaneCa, 'utf8'),
              ...(o.tlsCert
                ? { cert: readFileSync(o.tlsCert, 'utf8'), key: readFileSync(o.tlsKey!, 'utf8') }
                : {}),
            })
          : undefined;
        if (!!o.peerCert !== !!o.peerKey) throw new RangeError('--peer-cert and --peer-key go together');
        if (o.peerCert && !o.peerCa) throw new RangeError('--peer-cert needs --peer-ca');
        const peerTls = o.peerCa
          ? {
              ca: readFileSync(o.peerCa, 'utf8'),
              ...(o.peerCert
                ? { cert: readFileSync(o.peerCert, 'utf8'), key: readFileSync(o.peerKey!, 'utf8') }
                : {}),
            }
          : undefined;
        // An enrolled agent accepts only the credential it issued at enrollment; one about to enroll
        // issues it now, so that the server requires it from its first request.
        let enrollment: AgentEnrollment | undefined = controlPlane ? readEnrollment(o.state) : undefined;
        if (controlPlane && enrollment && enrollment.controlPlane !== controlPlane)
          throw new RangeError(
            `This agent is enrolled with ${enrollment.controlPlane}, not ${controlPlane}: delete ${o.state}/enrollment.json to enroll elsewhere`,
          );
        if (controlPlane && !enrollment && !joinToken)
          throw new RangeError(
            `This agent is not enrolled with ${controlPlane}: set NUBIS_JOIN_TOKEN (or give --join-token-file FILE) from \`nubis host join-token create\``,
          );
        const newCredential = controlPlane && !enrollment ? randomBytes(32).toString('base64url') : undefined;
        const token =
          enrollment?.agentCredential ??
          newCredential ??
          (o.tokenFile ? readTokenFile(o.tokenFile, '--token-file') : undefined) ??
          process.env.NUBIS_AGENT_TOKEN;
        checkListenHost(m[1]!, !!token);
        // Guests' disks, memory-state snapshots and consoles live here: this user's only.
        privateFolder(o.state);
        const probeImage = {
          kernel: join(o.guestDir, 'vmlinuz'),
          initrd: join(o.guestDir, 'initramfs.cpio.gz'),
        };
        const accel =
          o.accel === 'auto'
            ? await probeAccel({ stateDir: o.state, probeImage })
            : { accel: o.accel as 'kvm' | 'tcg', reason: 'chosen with --accel' };
        const poolFlags = o.pool.map(parsePoolFlag);
        const pools = new HostPools(poolFlags);
        const cacheMaxGib = o.imageCacheMaxGib === undefined ? undefined : Number(o.imageCacheMaxGib);
        if (cacheMaxGib !== undefined && !(Number.isFinite(cacheMaxGib) && cacheMaxGib > 0))
          throw new RangeError(
            `--image-cache-max-gib must be a positive number, got "${o.imageCacheMaxGib}"`,
          );
        // Images come from the control plane, with its pinned CA; the credential is set once enrolled.
        const imageCache = new ImageCache({
          dir: resolve(o.imageCache ?? join(o.state, 'images-cache')),
          ...(cpFetch ? { fetch: cpFetch } : {}),
          ...(cacheMaxGib !== undefined ? { maxBytes: Math.floor(cacheMaxGib * 2 ** 30) } : {}),
          // Guests' root disks and the pools' volumes may be overlays on cached images: those stay.
          overlayDirs: () => [join(o.state, 'guests'), ...poolFlags.map((p) => p.dir)],
        });
        const driver = await QemuDriver.open({
          pools,
          imageCache,
          stateDir: o.state,
          accel: accel.accel,
          // Guests may boot only from the tiny guest's folder and the images folder.
          imageDirs: [resolve(o.guestDir), ...(o.imagesDir ? [resolve(o.imagesDir)] : [])],
          migrationSourceDirs: o.migrationSourceDirs
            ?.split(',')
            .filter(Boolean)
            .map((d) => resolve(d)),
        });
        const adopted = (await driver.list()).filter((g) => g.state === 'running' || g.state === 'paused');
        const memory = new MemoryManager(driver, { manageKsm: !!o.manageKsm });
        // The cloud's fingerprint key, from the control plane's heartbeat answers (enrolled agents only).
        let fingerprintKey: Buffer | undefined;
        const migrationAddress = o.migrationAddress ?? (m[1] === '0.0.0.0' ? '127.0.0.1' : m[1]!);
        const app = buildAgentServer({
          driver,
          token,
          accelReason: accel.reason,
          memory,
          fingerprintKey: () => fingerprintKey,
          powerCommand: o.powerCommand,
          migrationAddress,
          peerTls,
          network: new NetworkAgent({
            stateDir: join(o.state, 'network'),
            underlayIp: o.underlayIp ?? migrationAddress,
            guestHere: (id) => guestRunsHere(driver.dir(id)),
          }),
          images: {
            tinyGuestDir: resolve(o.guestDir),
            diskDir: o.imagesDir ? resolve(o.imagesDir) : undefined,
          },
        });
        const memS = Number(o.memoryIntervalS);
        const memTimer =
          memS > 0
            ? setInterval(() => {
                memory
                  .round()
                  .catch((e) =>
                    process.stderr.write(`nubis agent: memory round failed: ${(e as Error).message}\n`),
                  );
              }, memS * 1000)
            : undefined;
        let tlsServer: ReturnType<typeof createHttpsServer> | undefined;
        let addr: string;
        // What the socket really bound (fastify's answer names 127.0.0.1 for 0.0.0.0).
        let bound: AddressInfo;
        if (o.tlsCert) {
          // HTTPS (and mutual TLS) in front of the same routes: the server hands requests to fastify.
          await app.ready();
          tlsServer = createHttpsServer(
            {
              cert: readFileSync(o.tlsCert),
              key: readFileSync(o.tlsKey!),
              ...(o.tlsClientCa
                ? { ca: readFileSync(o.tlsClientCa), requestCert: true, rejectUnauthorized: true }
                : {}),
            },
            (req, res) => app.routing(req, res),
          );
          // WebSocket upgrades (the serial console) go to the handler the agent registered on its server.
          tlsServer.on('upgrade', (req, socket, head) => app.server.emit('upgrade', req, socket, head));
          await new Promise<void>((ok, fail) =>
            tlsServer!.once('error', fail).listen(Number(m[2]), m[1], () => ok()),
          );
          bound = tlsServer.address() as AddressInfo;
          addr = `https://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
        } else {
          addr = await app.listen({ host: m[1]!, port: Number(m[2]) });
          bound = app.server.address() as AddressInfo;
        }
        if (!token && !isLoopback(bound.address)) {
          tlsServer?.close();
          await app.close();
          throw new RangeError(noTokenMessage(bound.address));
        }
        process.stdout.write(
          `nubis agent listening on ${boundUrl(bound, tlsServer ? 'https' : 'http')} (${accel.accel}: ${accel.reason}; ${adopted.length} running guest(s) re-adopted)\n`,
        );
        let timer: NodeJS.Timeout | undefined;
        let profileTimer: NodeJS.Timeout | undefined;
        if (controlPlane) {
          const cp = controlPlane;
          const agentUrl = o.advertiseUrl ?? addr;
          if (!enrollment) {
            const facts = hostFacts(driver, accel.reason);
            // A refused enrollment (token, or TLS: a control plane not from the pinned CA) ends the
            // agent: nothing listens on for a control plane that will never call.
            enrollment = await enrollAgent(o.state, {
              controlPlane: cp,
              joinToken: joinToken!,
              agentCredential: newCredential!,
              agentUrl,
              hostname: o.name ?? facts.hostname,
              cpus: facts.cpus,
              memoryMiB: Math.floor(facts.memoryMiB),
              accel: facts.accel,
              pools: facts.pools,
              fetch: cpFetch,
            }).catch(async (e: unknown) => {
              if (memTimer) clearInterval(memTimer);
              tlsServer?.close();
              await app.close();
              throw e;
            });
            process.stdout.write(`nubis agent enrolled as host ${enrollment.hostId} at ${agentUrl}\n`);
          } else if (enrollment.agentUrl !== agentUrl)
            process.stderr.write(
              `nubis agent: enrolled at ${enrollment.agentUrl} but now at ${agentUrl}: the control plane reaches only the enrolled address (enroll again to move)\n`,
            );
          imageCache.setCredential({ origin: cp, token: enrollment.hostCredential });
          const client = new NubisClient({
            baseUrl: cp,
            token: enrollment.hostCredential,
            ...(cpFetch ? { fetch: cpFetch } : {}),
          });
          let lastAck = Date.now();
          let fenced = false;
          const fenceAfterMs = Number(o.fenceAfterS) * 1000;
          // CPU utilization per guest since the last heartbeat: Δ CPU time / (Δ wall time × vCPUs).
          const lastCpu = new Map<string, { cpuTimeS: number; at: number }>();
          const cpuOf = (id: string, vcpus: number, m: { cpuTimeS: number } | undefined) => {
            if (!m) return undefined;
            const now = Date.now() / 1000,
              prev = lastCpu.get(id);
            lastCpu.set(id, { cpuTimeS: m.cpuTimeS, at: now });
            if (!prev || now <= prev.at) return undefined;
            return Math.min(
              1,
              Math.max(0, (m.cpuTimeS - prev.cpuTimeS) / ((now - prev.at) * Math.max(1, vcpus))),
            );
          };
          // Memory profiles (page fingerprints): collected on their own timer, carried by the next heartbeat.
          const profileS = Number(o.memoryProfileIntervalS);
          const profiles = new ProfileCollector(driver, {
            warn: (l) => process.stderr.write(`nubis agent: ${l}\n`),
            hashKey: () => fingerprintKey,
            requireKey: true,
          });
          if (profileS > 0) {
            void profiles.round();
            profileTimer = setInterval(() => void profiles.round(), profileS * 1000);
          }
          const beat = async () => {
            const guests = await driver.list();
            const memory = profiles.take();
            let health: { status: 'ok' | 'degraded'; reason?: string } = { status: 'ok' };
            if (o.healthFile) {
              try {
                const m = /^\s*degraded\s*:?\s*(.*)$/i.exec(readFileSync(o.healthFile, 'utf8'));
                if (m)
                  health = { status: 'degraded', reason: m[1]!.trim() || 'reported by the hardware monitor' };
              } catch {
                /* no file: healthy */
              }
            }
            // No agent URL: the control plane reaches the one bound at enrollment only.
            const body = {
              health,
              ...hostFacts(driver, accel.reason),
              ...(o.name ? { hostname: o.name } : {}),
              guests: await Promise.all(
                guests.map(async (g) => {
                  const metrics =
                    g.state === 'running' ? await driver.metrics(g.id).catch(() => undefined) : undefined;
                  const p = memory.get(g.id);
                  return {
                    id: g.id,
                    state: g.state,
                    metrics,
                    cpu: cpuOf(g.id, g.spec.vcpus, metrics),
                    ...(p ? { memory: p } : {}),
                  };
                }),
              ),
            };
            const ok = await client.agents
              .heartbeat(body)
              .then((r) => {
                // The first key (or a new one) profiles at once: no round runs before the key is known.
                if (r.fingerprintKey && r.fingerprintKey !== fingerprintKey?.toString('utf8')) {
                  fingerprintKey = Buffer.from(r.fingerprintKey, 'utf8');
                  if (profileS > 0) void profiles.round();
                }
                return true;
              })
              .catch((e: ApiError) => {
                if (e.status === 0) process.stderr.write(`nubis agent: heartbeat failed: ${e.message}\n`);
                return false;
              });
            if (!ok) profiles.putBack(memory);
            if (ok) {
              lastAck = Date.now();
              fenced = false;
              return;
            }
            // Fencing: past the control plane's failure timeout it may restart our HA guests elsewhere;
            // stop them here so no VM ever runs twice (split brain).
            if (fenceAfterMs > 0 && !fenced && Date.now() - lastAck > fenceAfterMs) {
              fenced = true;
              const running = (await driver.list()).filter(
                (g) => g.state === 'running' || g.state === 'paused',
              );
              process.stderr.write(
                `nubis agent: control plane unreachable for ${Math.round((Date.now() - lastAck) / 1000)} s: fencing, stopping ${running.length} guest(s)\n`,
              );
              for (const g of running) await driver.stop(g.id, { force: true }).catch(() => undefined);
            }
          };
          await beat();
          timer = setInterval(beat, Number(o.heartbeatS) * 1000);
        }
        const stop = async () => {
          if (timer) clearInterval(timer);
          if (memTimer) clearInterval(memTimer);
          if (profileTimer) clearInterval(profileTimer);
          tlsServer?.close();
          await app.close();
          await driver.close();
          process.exit(0);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        await new Promise(() => undefined); // serve until stopped; guests keep running if the agent dies
      },
    );
}

/** Create `dir` (mode 0700), or take away others' access to an existing one. */
export function privateFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (statSync(dir).mode & 0o077) chmodSync(dir, 0o700);
}

/**
 * The token in a file that only its owner may read (trailing newline ignored).
 * @throws RangeError for a file others can read, or an empty one
 */
function readTokenFile(file: string, option: string): string {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077)
    throw new RangeError(
      `${option} ${file} is readable by others (mode ${mode.toString(8)}); chmod 600 ${file}`,
    );
  const t = readFileSync(file, 'utf8').trim();
  if (!t) throw new RangeError(`${option} ${file} is empty`);
  return t;
}

/** Why `--token` is refused on `nubis agent` and `nubis guest`, and what to do instead. */
export const AGENT_TOKEN_ON_ARGV =
  '--token was removed: a token on the command line is visible to every user (ps) and kept in shell ' +
  'histories. Set NUBIS_AGENT_TOKEN, or give --token-file FILE (mode 0600)';

/** Why `--join-token` is refused on `nubis agent`, and what to do instead. */
export const JOIN_TOKEN_ON_ARGV =
  '--join-token was removed: a token on the command line is visible to every user (ps) and kept in ' +
  'shell histories. Set NUBIS_JOIN_TOKEN, or give --join-token-file FILE (mode 0600)';

/** A token given on the command line (one line, exit 2). */
export class AgentArgvError extends Error {
  readonly code = 'TOKEN_ON_ARGV';
}
