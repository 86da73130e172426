/**
 * State folders for two test hosts, side by side in a private parent folder. An agent's default
 * migration source folders are its state folder's parent and that parent's subfolders: with a private
 * parent a test sees only its own two hosts, not what an earlier, interrupted run left in the system's
 * temporary folder.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `[parent, a, b]`: remove `parent` when done. */
export function twoHostDirs(prefix: string): [string, string, string] {
  const parent = mkdtempSync(join(tmpdir(), prefix));
  const a = join(parent, 'a'),
    b = join(parent, 'b');
  mkdirSync(a);
  mkdirSync(b);
  return [parent, a, b];
}
