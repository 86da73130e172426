/**
 * An in-process agent over the real QEMU driver that never boots a guest: `qemu-system` is `true`
 * (it "starts" and leaves no process, so a start is refused with 409), qemu-img is real. Its folders
 * live in one temporary root next to a canary folder that nothing may touch.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildAgentServer } from '../../src/agent/agent-server.ts';
import type { TicketBook } from '../../src/agent/migration-tickets.ts';
import { QemuDriver } from '../../src/drivers/qemu/qemu-driver.ts';
import { HostPools } from '../../src/drivers/qemu/storage-pools.ts';

export interface InprocAgent {
  app: FastifyInstance;
  root: string;
  state: string;
  images: string;
  canary: string;
  /** The folder of the pool `local` (when started with `pools: true`). */
  localPool: string;
  close(): Promise<void>;
}

/** Start an in-process agent (token "k" unless `token: null`; tickets from `tickets` if given). */
export async function inprocAgent(
  o: {
    token?: string | null;
    powerCommand?: string;
    tickets?: TicketBook;
    migrationAddress?: string;
    /** A `local` pool in the agent's root. */
    pools?: boolean;
  } = {},
): Promise<InprocAgent> {
  const root = mkdtempSync(join(tmpdir(), 'nubis-agent-sec-'));
  const state = join(root, 'state'),
    images = join(root, 'images'),
    canary = join(root, 'canary');
  mkdirSync(images);
  mkdirSync(canary);
  writeFileSync(join(canary, 'keep'), 'canary');
  writeFileSync(join(images, 'vmlinuz'), 'not really a kernel');
  writeFileSync(join(images, 'initramfs.cpio.gz'), 'not really an initrd');
  const driver = await QemuDriver.open({
    stateDir: state,
    accel: 'tcg',
    imageDirs: [images],
    qemuBinary: 'true',
    ...(o.pools
      ? { pools: new HostPools([{ name: 'local', kind: 'local', dir: join(root, 'pool-local') }]) }
      : {}),
  });
  const app = buildAgentServer({
    driver,
    token: o.token === null ? undefined : (o.token ?? 'k'),
    powerCommand: o.powerCommand,
    tickets: o.tickets,
    migrationAddress: o.migrationAddress,
    images: { tinyGuestDir: images, diskDir: images },
  });
  await app.ready();
  return {
    app,
    root,
    state,
    images,
    canary,
    localPool: join(root, 'pool-local'),
    close: async () => {
      await app.close();
      await driver.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
