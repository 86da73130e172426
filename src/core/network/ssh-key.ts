/**
 * OpenSSH public key lines (`TYPE BASE64 [COMMENT]`, sshd(8) AUTHORIZED_KEYS FILE FORMAT): checked
 * before they are stored and served to guests. Pure.
 */

/** The key types accepted. */
export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
] as const;

/** A parsed public key: its type, the decoded key blob and the comment. */
export interface SshPublicKey {
  type: (typeof SSH_KEY_TYPES)[number];
  blob: Uint8Array;
  comment: string;
}

/**
 * Parse one public key line: a known type, base64 that decodes, and a blob whose first field (a
 * uint32 length then the type name, RFC 4253 §6.6) names the same type. Returns what is wrong as a
 * string otherwise.
 */
export function parseSshPublicKey(line: string): SshPublicKey | string {
  const accepted = `accepted: an OpenSSH public key line "TYPE BASE64 [COMMENT]" with TYPE ${SSH_KEY_TYPES.join(', ')}`;
  const parts = line.trim().split(/\s+/);
  if (line.includes('\n') && line.trim().includes('\n'))
    return `the public key must be one line; ${accepted}`;
  const [type, b64, ...rest] = parts;
  if (!type || !b64) return `not a public key line; ${accepted}`;
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type))
    return `key type "${type}" is not supported; ${accepted}`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0)
    return `the key data is not base64; ${accepted}`;
  let blob: Uint8Array;
  try {
    blob = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  } catch {
    return `the key data is not base64; ${accepted}`;
  }
  if (blob.length < 4) return 'the key data is too short';
  const n = ((blob[0]! << 24) | (blob[1]! << 16) | (blob[2]! << 8) | blob[3]!) >>> 0;
  if (n > blob.length - 4) return 'the key data is truncated';
  const inner = String.fromCharCode(...blob.subarray(4, 4 + n));
  if (inner !== type) return `the key data is of type "${inner}", not "${type}"`;
  return { type: type as SshPublicKey['type'], blob, comment: rest.join(' ') };
}
