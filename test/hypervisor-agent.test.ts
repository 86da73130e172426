/** The conformance suites against the third driver: real agent processes over HTTP. */
import { spawn, type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { hostRef } from '../src/core/host-driver.ts';
import { AgentDriver } from '../src/drivers/agent/agent-driver.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { hostDriverConformance } from './host-driver-conformance.ts';
import { tinyGuest } from './helpers/guest.ts';
import { hypervisorConformance } from './hypervisor-conformance.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  // QEMU guests are daemons: they outlive their agent. End this test's (their paths hold its folders).
  for (const d of dirs) spawnSync('pkill', ['-KILL', '-f', d]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Start an agent on a free port (token "k", a power-control command that succeeds); its URL. */
async function startAgent(): Promise<string> {
  const d = mkdtempSync(join(tmpdir(), 'nubis-agentdrv-'));
  dirs.push(d);
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin/nubis.js'),
      'agent',
      '--state',
      d,
      '--listen',
      '127.0.0.1:0',
      '--accel',
      'tcg',
      '--memory-interval-s',
      '0',
      '--power-command',
      'true',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NUBIS_AGENT_TOKEN: 'k' } },
  );
  procs.push(proc);
  return new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (x) => {
      out += x;
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', (c) => reject(new Error(`agent exited ${c}`)));
  });
}

const spec = (id: string) => {
  const t = g as Exclude<typeof g, string>;
  return {
    id,
    memoryMiB: 256,
    vcpus: 1,
    image: { kernel: t.kernel, initrd: t.initrd },
    workload: { mib: 16, rateMiBps: 0 },
  };
};

hypervisorConformance({
  name: 'AgentDriver (agent over HTTP, TCG)',
  skip: typeof g === 'string' ? g : undefined,
  open: async () => {
    const drv = new AgentDriver(await startAgent(), 'k');
    await drv.host();
    return drv;
  },
  spec,
  wait: (ms) => new Promise((r) => setTimeout(r, ms)),
  cleanup: async () => {
    procs.pop()?.kill('SIGKILL');
  },
});

hostDriverConformance({
  name: 'AgentDriver (two agents over HTTP, TCG)',
  skip: typeof g === 'string' ? g : undefined,
  open: async () => {
    const [ua, ub] = await Promise.all([startAgent(), startAgent()]);
    // Each agent is reached with its own credential (both "k" here: they were started with NUBIS_AGENT_TOKEN=k).
    const aRef = hostRef({ id: 'a', name: 'host-a', driver: 'qemu', agent_url: ua, agent_credential: 'k' });
    const bRef = hostRef({ id: 'b', name: 'host-b', driver: 'qemu', agent_url: ub, agent_credential: 'k' });
    const drivers = createHostDrivers({});
    return { a: drivers.forHost(aRef), b: drivers.forHost(bRef), aRef, bRef };
  },
  spec,
  cleanup: async () => {
    procs.pop()?.kill('SIGKILL');
    procs.pop()?.kill('SIGKILL');
  },
});
