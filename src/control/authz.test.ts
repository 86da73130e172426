import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  authorize,
  authorizeTenantObject,
  authorizeUserObject,
  POLICY,
  policyRows,
  ROLES,
  tenantFilter,
  type Operation,
  type Subject,
} from './authz.ts';
import { ControlError } from './errors.ts';

const who = (role: Subject['role'], tenantId = 't1', userId = 'u1'): Subject => ({ role, tenantId, userId });
const code = (f: () => void) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof ControlError);
    return e.code;
  }
};

test('authorize() refuses a role the rule lacks, naming the operation and the roles it needs', () => {
  assert.throws(
    () => authorize(who('reader'), 'vm:create'),
    (e: ControlError) =>
      e.code === 'FORBIDDEN' &&
      /vm:create .*needs role admin or member; you are reader/.test(e.message) &&
      e.details?.operation === 'vm:create',
  );
  assert.equal(
    code(() => authorize(who('member'), 'vm:create')),
    'ok',
  );
});

test('least privilege: operators run hosts and plans but neither administer tenants nor read other bills', () => {
  const op = who('operator');
  assert.equal(
    code(() => authorize(op, 'host:operate')),
    'ok',
  );
  assert.equal(
    code(() => authorize(op, 'plan:write')),
    'ok',
  );
  assert.equal(
    code(() => authorize(op, 'tenant:create')),
    'FORBIDDEN',
  );
  assert.equal(
    code(() => authorize(op, 'user:create')),
    'FORBIDDEN',
  );
  assert.equal(
    code(() => authorize(op, 'vm:action')),
    'FORBIDDEN',
  );
  assert.equal(
    code(() => authorizeTenantObject(op, 'invoice:read', 't2', 'No tenant "t2"')),
    'NOT_FOUND',
  );
  assert.equal(
    code(() => authorizeTenantObject(who('admin'), 'invoice:read', 't2', 'x')),
    'ok',
  );
});

test("another tenant's object is NOT_FOUND for roles that reach their own tenant only", () => {
  assert.equal(
    code(() => authorizeTenantObject(who('member'), 'vm:action', 't2', 'No VM "x"')),
    'NOT_FOUND',
  );
  assert.equal(
    code(() => authorizeTenantObject(who('member'), 'vm:action', 't1', 'No VM "x"')),
    'ok',
  );
  assert.equal(
    code(() => authorizeTenantObject(who('operator'), 'vm:read', 't2', 'x')),
    'ok',
  );
  assert.equal(
    code(() => authorizeTenantObject(who('operator'), 'vm:migrate', 't2', 'x')),
    'ok',
  );
  // The role check comes first: it does not depend on the object, so it leaks nothing.
  assert.equal(
    code(() => authorizeTenantObject(who('reader'), 'vm:action', 't2', 'x')),
    'FORBIDDEN',
  );
  // Members and readers read their own tenant and its quotas.
  assert.equal(
    code(() => authorizeTenantObject(who('reader'), 'tenant:read', 't1', 'x')),
    'ok',
  );
  assert.equal(
    code(() => authorizeTenantObject(who('reader'), 'tenant:read', 't2', 'x')),
    'NOT_FOUND',
  );
});

test("tokens: everyone reaches their own; only admins reach another user's", () => {
  assert.equal(
    code(() => authorizeUserObject(who('member'), 'token:revoke', 'u1', 'x')),
    'ok',
  );
  assert.equal(
    code(() => authorizeUserObject(who('operator'), 'token:revoke', 'u2', 'x')),
    'NOT_FOUND',
  );
  assert.equal(
    code(() => authorizeUserObject(who('admin'), 'token:list', 'u2', 'x')),
    'ok',
  );
});

test('tenantFilter() limits listings to the caller tenant unless the rule reaches every tenant', () => {
  assert.equal(tenantFilter(who('member'), 'vm:read'), 't1');
  assert.equal(tenantFilter(who('operator'), 'vm:read'), undefined);
  assert.equal(tenantFilter(who('operator'), 'usage:read'), 't1');
  assert.equal(tenantFilter(who('admin'), 'usage:read'), undefined);
});

test('every rule is well formed: known roles, reach only for allowed roles, admins allowed everywhere', () => {
  for (const row of policyRows()) {
    const r = POLICY[row.operation as Operation] as {
      roles: readonly string[];
      anyTenant?: readonly string[];
      anyUser?: readonly string[];
    };
    assert.ok(r.roles.includes('admin'), `${row.operation}: admins do everything`);
    for (const x of [...r.roles, ...(r.anyTenant ?? []), ...(r.anyUser ?? [])])
      assert.ok((ROLES as readonly string[]).includes(x), `${row.operation}: unknown role ${x}`);
    for (const x of [...(r.anyTenant ?? []), ...(r.anyUser ?? [])])
      assert.ok(r.roles.includes(x), `${row.operation}: ${x} reaches all but is not allowed at all`);
  }
});
