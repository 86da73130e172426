/**
 * The agent's side of host enrollment: enroll with a one-time join token, keep the credentials in a
 * 0600 file in the state folder (`enrollment.json`), and read them back on the next start.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NubisClient } from '../client/index.ts';

/** What an enrolled agent keeps: its host, the credential it reports with, the one it accepts. */
export interface AgentEnrollment {
  controlPlane: string;
  hostId: string;
  agentUrl: string;
  /** Presented by this agent to the control plane (heartbeats). */
  hostCredential: string;
  /** Required by this agent's API: the control plane presents it. */
  agentCredential: string;
}

/** The credentials file of a state folder. */
export const enrollmentFile = (stateDir: string) => join(stateDir, 'enrollment.json');

/** The stored enrollment of a state folder, if any. @throws Error if the file is not an enrollment */
export function readEnrollment(stateDir: string): AgentEnrollment | undefined {
  const f = enrollmentFile(stateDir);
  if (!existsSync(f)) return undefined;
  const e = JSON.parse(readFileSync(f, 'utf8')) as AgentEnrollment;
  if (!e.hostCredential || !e.agentCredential || !e.controlPlane)
    throw new Error(`${f} is not an enrollment (delete it and enroll again with a join token)`);
  return e;
}

/**
 * Enroll this host with a join token and store the credentials (file mode 0600). The agent issues
 * the credential the control plane will present to it.
 * @throws ApiError when the control plane refuses (token unknown, used or expired; host name taken)
 */
export async function enrollAgent(
  stateDir: string,
  o: {
    controlPlane: string;
    joinToken: string;
    agentUrl: string;
    hostname: string;
    cpus: number;
    memoryMiB: number;
    accel?: string;
    /** The storage pools this host has. */
    pools?: { name: string; kind: 'local' | 'shared' }[];
    /** The credential this agent requires from the control plane (random, issued by the agent). */
    agentCredential: string;
    /** How to reach the control plane (a pinned CA: `pinnedFetch`); the global fetch by default. */
    fetch?: typeof fetch;
  },
): Promise<AgentEnrollment> {
  const agentCredential = o.agentCredential;
  const client = new NubisClient({ baseUrl: o.controlPlane, ...(o.fetch ? { fetch: o.fetch } : {}) });
  const r = await client.agents.enroll({
    joinToken: o.joinToken,
    hostname: o.hostname,
    agentUrl: o.agentUrl,
    cpus: o.cpus,
    memoryMiB: o.memoryMiB,
    accel: o.accel,
    ...(o.pools ? { pools: o.pools } : {}),
    agentCredential,
  });
  const e: AgentEnrollment = {
    controlPlane: o.controlPlane,
    hostId: r.hostId,
    agentUrl: o.agentUrl,
    hostCredential: r.hostCredential,
    agentCredential,
  };
  const f = enrollmentFile(stateDir);
  writeFileSync(f, JSON.stringify(e, null, 2) + '\n', { mode: 0o600 });
  chmodSync(f, 0o600); // an existing file keeps its mode on write
  return e;
}
