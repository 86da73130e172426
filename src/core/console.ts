/**
 * A guest's serial console, as the control plane sees it through a host driver: the log (only its
 * tail, bounded) and an interactive byte stream to the serial port. Pure types and arithmetic.
 */

/** The most of a console log one read returns (1 MiB): the log stays bounded however long it grows. */
export const CONSOLE_LOG_MAX_BYTES = 1 << 20;

/** Bytes a console log read returns when the caller names no tail (64 KiB). */
export const CONSOLE_LOG_DEFAULT_BYTES = 64 << 10;

/** The end of a guest's serial console log. */
export interface ConsoleLog {
  /** The last bytes of the log, as UTF-8 text (a character cut at the start is replaced). */
  text: string;
  /** Size of the whole log, bytes: a follower prints what grew since its last read. */
  sizeBytes: number;
  /** True when `text` is not the whole log. */
  truncated: boolean;
}

/** Options of a console log read. */
export interface ConsoleLogOptions {
  /** Bytes from the end (clamped to 1..CONSOLE_LOG_MAX_BYTES); default CONSOLE_LOG_DEFAULT_BYTES. */
  tailBytes?: number;
}

/** The tail length a read uses: `tailBytes` clamped to 1..CONSOLE_LOG_MAX_BYTES (a whole number). */
export function consoleTailBytes(o: ConsoleLogOptions = {}): number {
  const t = o.tailBytes;
  if (t === undefined || !Number.isFinite(t)) return CONSOLE_LOG_DEFAULT_BYTES;
  return Math.min(CONSOLE_LOG_MAX_BYTES, Math.max(1, Math.floor(t)));
}

/**
 * An open interactive console: bytes typed go to the guest's serial port, bytes the guest writes
 * come back. One listener each; `close()` ends it (and calls the close listener once).
 */
export interface ConsoleStream {
  /** Send bytes (keystrokes) to the guest's serial port. */
  write(data: Uint8Array | string): void;
  /** Called with every chunk the guest writes. */
  onData(listener: (data: Uint8Array) => void): void;
  /** Called once when the stream ends, from either side, with a reason when known. */
  onClose(listener: (reason?: string) => void): void;
  close(): void;
}

/** What a host driver offers for a guest's serial console. */
export interface ConsoleDriver {
  /** The end of a guest's console log. Throws `DriverError` NOT_FOUND for an unknown guest. */
  consoleLog(id: string, options?: ConsoleLogOptions): Promise<ConsoleLog>;
  /**
   * Open the guest's serial port interactively. Throws `DriverError` NOT_FOUND for an unknown
   * guest, INVALID_STATE when it is not running.
   */
  openConsole(id: string): Promise<ConsoleStream>;
}
