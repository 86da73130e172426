/**
 * What an image file is, from `qemu-img info --output=json`: its format and virtual size, refusing
 * what a host must not be given (not qcow2 or raw, a qcow2 with a backing file or an external data
 * file: both would make the host open another file the uploader chose).
 */
import { execFile } from 'node:child_process';

/** The verdict on a file: an image, or the reason it is refused. */
export type ImageVerdict =
  { ok: true; format: 'qcow2' | 'raw'; virtualSizeBytes: number } | { ok: false; reason: string };

/** The fields of `qemu-img info --output=json` we read. */
interface QemuImgInfo {
  format?: string;
  'virtual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { type?: string; data?: { 'data-file'?: string } };
}

/**
 * Judge `info` (qemu-img's JSON) and the file's first bytes. qemu-img calls anything it does not
 * recognise `raw`, so a raw image must also look like a disk: a whole number of 512-byte sectors and
 * a first sector that is not plain text.
 */
export function judgeImage(
  info: QemuImgInfo,
  sizeBytes: number,
  head: Uint8Array,
  o: { partialSector?: boolean } = {},
): ImageVerdict {
  const accepted = 'accepted: qcow2 (without backing or external data file) or a raw disk image';
  if (info.format === 'qcow2') {
    if (info['backing-filename'] || info['full-backing-filename'])
      return { ok: false, reason: `The qcow2 image has a backing file; ${accepted}` };
    if (info['format-specific']?.data?.['data-file'])
      return { ok: false, reason: `The qcow2 image has an external data file; ${accepted}` };
    return { ok: true, format: 'qcow2', virtualSizeBytes: info['virtual-size'] ?? sizeBytes };
  }
  if (info.format !== 'raw')
    return { ok: false, reason: `The file is a ${info.format ?? 'unknown'} image; ${accepted}` };
  if (sizeBytes === 0 || (sizeBytes % 512 !== 0 && !o.partialSector))
    return {
      ok: false,
      reason: `The file is not a disk image (${sizeBytes} bytes, not whole sectors); ${accepted}`,
    };
  if (isText(head.subarray(0, 512)))
    return { ok: false, reason: `The file is text, not a disk image; ${accepted}` };
  return { ok: true, format: 'raw', virtualSizeBytes: sizeBytes };
}

/** Whether every byte is printable ASCII or white space (and there is at least one non-zero byte). */
function isText(b: Uint8Array): boolean {
  let seen = false;
  for (const c of b) {
    if (c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127)) seen = true;
    else return false;
  }
  return seen;
}

/** Run `qemu-img info --output=json FILE` (probing the format). @throws Error when qemu-img fails. */
export function qemuImgInfo(file: string, qemuImg = 'qemu-img'): Promise<QemuImgInfo> {
  return new Promise((resolve, reject) => {
    execFile(
      qemuImg,
      ['info', '--output=json', file],
      { timeout: 60_000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`qemu-img info failed: ${stderr.trim() || err.message}`));
        try {
          resolve(JSON.parse(stdout) as QemuImgInfo);
        } catch {
          reject(new Error('qemu-img info printed no JSON'));
        }
      },
    );
  });
}

/**
 * `qemu-img check` of a qcow2 file: undefined when it is consistent (leaked clusters only waste
 * space), else why it is corrupt (qemu-img's exit codes: 2 corruptions, 1 the check failed, 3 leaks).
 */
export function qemuImgCheck(file: string, qemuImg = 'qemu-img'): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      qemuImg,
      ['check', '-f', 'qcow2', '--output=json', file],
      { timeout: 300_000, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (code === 0 || code === 3) return resolve(undefined);
        let n: number | undefined;
        try {
          n = (JSON.parse(stdout) as { corruptions?: number })?.corruptions;
        } catch {
          /* no report: the check itself failed */
        }
        const said = stderr.trim().split('\n').slice(-1)[0] ?? '';
        resolve(
          n ? `qemu-img check found ${n} corruptions` : `qemu-img check failed: ${said || err?.message}`,
        );
      },
    );
  });
}
