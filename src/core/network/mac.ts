/** MAC addresses of ports. Pure. */

/** The locally administered prefix OpenStack Neutron gives its ports (`base_mac = fa:16:3e:00:00:00`). */
export const MAC_PREFIX = 'fa:16:3e';

/** A port MAC: the prefix and three bytes from `randomByte` (injected randomness, 0..255). */
export function generateMac(randomByte: () => number): string {
  const b = [randomByte(), randomByte(), randomByte()].map((x) => (x & 255).toString(16).padStart(2, '0'));
  return `${MAC_PREFIX}:${b.join(':')}`;
}

/** A MAC from a UUID's hex digits (how the control plane draws randomness: its IdSource). */
export function macFromUuid(uuid: string): string {
  const hex = uuid.replace(/-/g, '').slice(-6);
  let i = 0;
  return generateMac(() => parseInt(hex.slice(2 * i, 2 * i++ + 2), 16));
}
