/** The conformance suite against the third driver: a real agent process over HTTP. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { AgentDriver } from '../src/drivers/agent/agent-driver.ts';
import { tinyGuest } from './helpers/guest.ts';
import { hypervisorConformance } from './hypervisor-conformance.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

hypervisorConformance({
  name: 'AgentDriver (agent over HTTP, TCG)',
  skip: typeof g === 'string' ? g : undefined,
  open: async () => {
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
        '--token',
        'k',
        '--memory-interval-s',
        '0',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    procs.push(proc);
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout!.on('data', (x) => {
        out += x;
        const m = /listening on (http:\/\/[^ ]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      proc.on('exit', (c) => reject(new Error(`agent exited ${c}`)));
    });
    const drv = new AgentDriver(url, 'k');
    await drv.host();
    return drv;
  },
  spec: (id) => {
    const t = g as Exclude<typeof g, string>;
    return {
      id,
      memoryMiB: 256,
      vcpus: 1,
      image: { kernel: t.kernel, initrd: t.initrd },
      workload: { mib: 16, rateMiBps: 0 },
    };
  },
  wait: (ms) => new Promise((r) => setTimeout(r, ms)),
  cleanup: async () => {
    procs.pop()?.kill('SIGKILL');
  },
});
