import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { policyRows } from '../src/control/authz.ts';

test('docs/control-plane.md shows the policy table exactly as src/control/authz.ts has it', () => {
  const doc = readFileSync(new URL('../docs/control-plane.md', import.meta.url), 'utf8');
  const shown = doc.split('\n').filter((l) => /^\| `[a-z-]+:[a-z-]+` \|/.test(l));
  const table = policyRows().map(
    (r) => `| \`${r.operation}\` | ${r.summary} | ${r.roles.join(', ')} | ${r.reach} |`,
  );
  assert.deepEqual(shown, table, 'regenerate the table in docs/control-plane.md from policyRows()');
});
