/**
 * The port through which the image registry keeps image files: the composition root gives an
 * implementation (src/drivers/image-files.ts: a folder, `qemu-img info` for the format); the control
 * plane only sees these types.
 */

/** What a stored upload is: checksum, size and what `qemu-img info` found in it. */
export interface StoredImage {
  /** Lower-case hex SHA-256 of the bytes received. */
  sha256: string;
  sizeBytes: number;
  format: 'qcow2' | 'raw';
  /** The disk size the guest sees (qcow2: its virtual size; raw: the file size). */
  virtualSizeBytes: number;
}

/** Image files: receive an upload, serve it back, remove it. */
export interface ImageFiles {
  /**
   * Stream `data` into the file `name` (never held whole in memory), computing its SHA-256, and
   * inspect it. On any failure (more than `maxBytes`, not a qcow2 or raw image, a qcow2 with a
   * backing or external data file, a broken stream) the file is removed and a ControlError says why.
   * `partialSector`: a raw image may end in a partial sector (Glance stores any bytes; QEMU reads
   * the missing end as zeros).
   */
  receive(
    name: string,
    data: AsyncIterable<Uint8Array>,
    maxBytes: number,
    o?: { partialSector?: boolean },
  ): Promise<StoredImage>;
  /** The bytes of file `name`, streamed. @throws ControlError NOT_FOUND when it is missing. */
  read(name: string): AsyncIterable<Uint8Array>;
  /** Remove file `name` (nothing if it is missing). */
  remove(name: string): Promise<void>;
}

/** Default cap on one upload: 20 GiB. */
export const DEFAULT_IMAGE_MAX_BYTES = 20 * 2 ** 30;

/** Without an image folder (tools that only read or write records): uploads are refused. */
export const NO_IMAGE_FILES: ImageFiles = {
  async receive() {
    throw new TypeError('No image folder configured: this control plane cannot store uploaded images');
  },
  read() {
    throw new TypeError('No image folder configured: this control plane serves no image data');
  },
  async remove() {},
};
