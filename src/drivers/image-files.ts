/**
 * Image files in a folder (DATA/images/): uploads are streamed to disk with their SHA-256 computed on
 * the way, capped in size, then judged by `qemu-img info` (and a qcow2 by `qemu-img check`); any failure
 * removes the file.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlError } from '../control/errors.ts';
import type { ImageFiles, StoredImage } from '../control/storage/image-files.ts';
import { judgeImage, qemuImgCheck, qemuImgInfo } from './image-inspect.ts';

/** Only names the registry makes (ids) reach the disk. */
const FILE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

/**
 * Image files kept in `dir`.
 * @example createImageFiles('/var/lib/nubis/images').receive(id, req.raw, 20 * 2 ** 30)
 */
export function createImageFiles(dir: string, o: { qemuImg?: string } = {}): ImageFiles {
  const path = (name: string) => {
    if (!FILE_NAME.test(name)) throw new TypeError(`Not an image file name: ${JSON.stringify(name)}`);
    return join(dir, name);
  };
  return {
    async receive(name, data, maxBytes, ro = {}): Promise<StoredImage> {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path(name);
      const hash = createHash('sha256');
      const head = new Uint8Array(512);
      let size = 0;
      const out = createWriteStream(file, { mode: 0o600, flags: 'wx' });
      const closed = new Promise<void>((resolve, reject) => {
        out.on('close', resolve);
        out.on('error', reject);
      });
      try {
        for await (const chunk of data) {
          if (size < head.length) head.set(chunk.subarray(0, head.length - size), size);
          size += chunk.length;
          if (size > maxBytes)
            throw new ControlError(
              'BAD_REQUEST',
              `The image is larger than the limit of ${maxBytes} bytes; upload a smaller image`,
              { maxBytes },
            );
          hash.update(chunk);
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
        out.end();
        await closed;
        const info = await qemuImgInfo(file, o.qemuImg).catch((e: Error) => {
          throw new ControlError('BAD_REQUEST', `The file is not a disk image: ${e.message}`);
        });
        const v = judgeImage(info, size, head.subarray(0, Math.min(size, head.length)), ro);
        if (!v.ok) throw new ControlError('BAD_REQUEST', v.reason);
        // A truncated or damaged qcow2 still has a header `info` reads: its tables are checked too.
        const bad = v.format === 'qcow2' ? await qemuImgCheck(file, o.qemuImg) : undefined;
        if (bad)
          throw new ControlError(
            'BAD_REQUEST',
            `The qcow2 image is corrupt (${bad}); upload a complete, consistent qcow2 or a raw disk image`,
          );
        return {
          sha256: hash.digest('hex'),
          sizeBytes: size,
          format: v.format,
          virtualSizeBytes: v.virtualSizeBytes,
        };
      } catch (e) {
        out.destroy();
        await closed.catch(() => undefined);
        await rm(file, { force: true });
        throw e;
      }
    },
    read(name) {
      const file = path(name);
      return {
        async *[Symbol.asyncIterator]() {
          await stat(file).catch(() => {
            throw new ControlError('NOT_FOUND', `The data of image file "${name}" is missing`);
          });
          yield* createReadStream(file);
        },
      };
    },
    async remove(name) {
      await rm(path(name), { force: true });
    },
  };
}
