/**
 * What the control plane's AgentDriver sends a source agent to migrate a guest: the disks mode travels
 * inside the options (or the plan), the only place the agent's strict schema accepts it.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { AgentDriver } from '../src/drivers/agent/agent-driver.ts';

test('a block migration request carries disks in its options or plan, never beside them', async () => {
  const bodies: { url: string; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let s = '';
    req.on('data', (d) => (s += d));
    req.on('end', () => {
      bodies.push({ url: req.url!, body: s ? (JSON.parse(s) as Record<string, unknown>) : {} });
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify(
          req.url === '/v1/incoming-tickets' ? { ticket: 'nmt_x', expiresAt: '' } : { status: 'completed' },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const src = new AgentDriver(url, 'k');
    const dst = {
      id: 'h2',
      name: 'h2',
      driver: 'qemu',
      agentUrl: url,
      powerAddress: null,
      agentCredential: 'c',
    };
    await src.migrate('vm-1', dst, { mode: 'precopy', disks: 'mirror' });
    await src.migrate('vm-1', dst, { downtimeTargetMs: 300, disks: 'shared' });
    const sent = bodies.filter((b) => b.url === '/v1/guests/vm-1/migrate').map((b) => b.body);
    assert.equal(sent.length, 2);
    for (const b of sent) assert.equal(b.disks, undefined, 'no top-level disks');
    assert.deepEqual((sent[0]!.options as { disks?: string }).disks, 'mirror');
    assert.deepEqual((sent[1]!.plan as { disks?: string }).disks, 'shared');
  } finally {
    server.close();
  }
});
