/**
 * Authorization in one place: a policy table with one rule per operation, and the checks every
 * service makes first thing, before any read that could leak or any write (Keystone's
 * oslo.policy rules per operation; Kubernetes RBAC).
 *
 * A rule names the roles that may perform the operation and how far they reach:
 * - `scope: 'global'`: the operation is not about a tenant's object (hosts, plans, flavors);
 * - `scope: 'tenant'`: it is about an object a tenant owns; every allowed role reaches its own
 *   tenant's objects and the roles in `anyTenant` reach every tenant's. Another tenant's object is
 *   NOT_FOUND (404), never FORBIDDEN, so a caller cannot learn that it exists;
 * - `scope: 'user'`: it is about an object a user owns (tokens); `anyUser` roles reach everyone's.
 *
 * Least privilege: readers read their tenant's objects; members manage their tenant's VMs, server
 * groups and scaling groups; operators run the infrastructure (hosts, plans, migrations, metrics)
 * and read every tenant's VMs, but do not administer tenants or users nor read other tenants'
 * bills; admins do everything.
 */
import { ControlError } from './errors.ts';

/** The roles a user can have, most to least privileged. */
export const ROLES = ['admin', 'operator', 'member', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/** Who is asking: the fields of an authenticated principal that authorization needs. */
export interface Subject {
  readonly userId: string;
  readonly tenantId: string;
  readonly role: Role;
}

/** One rule of the policy table. */
export interface PolicyRule {
  /** Roles that may perform the operation at all (others get FORBIDDEN). */
  readonly roles: readonly Role[];
  readonly scope: 'global' | 'tenant' | 'user';
  /** With `scope: 'tenant'`: roles that reach every tenant's objects (others only their own). */
  readonly anyTenant?: readonly Role[];
  /** With `scope: 'user'`: roles that reach every user's objects (others only their own). */
  readonly anyUser?: readonly Role[];
  /** What the operation is, for docs and error messages. */
  readonly summary: string;
}

const ALL = ROLES;
const OPS = ['admin', 'operator'] as const;
const ADMIN = ['admin'] as const;
const WRITERS = ['admin', 'member'] as const;

/** Reads of a tenant's objects: every role on its own tenant; admins and operators on all. */
const tenantRead = (summary: string): PolicyRule => ({
  roles: ALL,
  scope: 'tenant',
  anyTenant: OPS,
  summary,
});
/** Changes to a tenant's objects: members on their own tenant; admins on all. */
const tenantWrite = (summary: string): PolicyRule => ({
  roles: WRITERS,
  scope: 'tenant',
  anyTenant: ADMIN,
  summary,
});
const global = (roles: readonly Role[], summary: string): PolicyRule => ({ roles, scope: 'global', summary });

/**
 * The policy table: every operation of the control plane and who may perform it. The API's route
 * modules name one operation per route; the generated matrix test (test/authz-matrix.test.ts)
 * checks every route against this table for every role.
 */
export const POLICY = {
  // who am I, the dashboard's totals, simulations
  'me:read': global(ALL, 'Who the token belongs to'),
  'overview:read': tenantRead('Totals for the dashboard (members and readers: their tenant)'),
  'simulation:read': global(OPS, 'List and read simulation runs'),
  'simulation:run': global(OPS, 'Start a simulation run on the server'),

  // tenants, users, tokens
  'tenant:list': global(OPS, 'List every tenant and its quotas'),
  'tenant:read': tenantRead('Read a tenant, its quotas and what it uses'),
  'tenant:create': global(ADMIN, 'Create a tenant'),
  'tenant:update': {
    roles: ADMIN,
    scope: 'tenant',
    anyTenant: ADMIN,
    summary: 'Rename a tenant, set its quotas, disable or enable it',
  },
  'tenant:delete': {
    roles: ADMIN,
    scope: 'tenant',
    anyTenant: ADMIN,
    summary: 'Delete a tenant with no VMs',
  },
  'user:list': {
    roles: ALL,
    scope: 'user',
    anyUser: ADMIN,
    summary: 'List users (yourself; admins: everyone)',
  },
  'user:create': global(ADMIN, 'Create a user'),
  'user:update': global(ADMIN, "Change a user's role"),
  'user:delete': global(ADMIN, 'Delete a user (revokes their tokens)'),
  'token:list': { roles: ALL, scope: 'user', anyUser: ADMIN, summary: 'List tokens (never their secret)' },
  'token:create': { roles: ALL, scope: 'user', anyUser: ADMIN, summary: 'Create a token' },
  'token:revoke': { roles: ALL, scope: 'user', anyUser: ADMIN, summary: 'Revoke a token' },

  // infrastructure
  'host:read': global(OPS, 'List and read hosts'),
  'host:create': global(ADMIN, 'Add a host'),
  'host:update': global(ADMIN, "Change a host's ratios, reserved resources, zone, rack, tier, power model"),
  'host:delete': global(ADMIN, 'Delete an empty host, or retire one (drain, then delete)'),
  'host:operate': global(OPS, "Change a host's state, power it on or off, drain and undrain it"),
  'host:enroll': global(ADMIN, 'Create one-time join tokens that enroll hosts'),
  'host:memory': global(
    OPS,
    "Read a host's memory model: demand at its risk, its VMs' working sets, sharing",
  ),
  'metrics:record': global(OPS, 'Record VM CPU samples'),
  'energy:read': tenantRead('Energy by tenant (members and readers: their tenant)'),
  'energy:read-infra': global(OPS, 'Energy by host or zone'),
  'settings:read': global(OPS, 'Read automation, energy and HA settings'),
  'settings:write': global(ADMIN, 'Change automation, energy (PUE) and HA settings'),
  'plan:read': global(OPS, 'List and read plans'),
  'plan:write': global(OPS, 'Propose, apply and discard plans; run automation rounds'),

  // catalogue
  'flavor:read': global(ALL, 'List flavors'),
  'flavor:write': global(ADMIN, 'Create, change and delete flavors'),
  'image:read': global(ALL, 'List images'),
  'image:write': global(ADMIN, 'Create, change and delete images'),
  'image:upload': tenantWrite(
    'Upload images (private to the tenant; public needs an admin), make your own private, delete your own',
  ),
  'image:download': tenantRead("Download the data of a public image or of your tenant's"),

  // storage
  'storage-pool:read': global(ALL, 'List storage pools'),
  'storage-pool:write': global(ADMIN, 'Create storage pools'),
  'volume:read': tenantRead('List and read volumes and their snapshots'),
  'volume:write': tenantWrite('Create, attach, detach, snapshot and delete volumes'),
  'volume:reset': global(ADMIN, "Reset a volume's recorded state (repairs; Cinder's os-reset_status)"),

  // a tenant's compute
  'vm:read': tenantRead('List and read VMs, their snapshots'),
  'vm:memory': tenantRead("Read a VM's measured memory (working set, sharing; never page hashes)"),
  'vm:create': { roles: WRITERS, scope: 'tenant', anyTenant: [], summary: 'Create a VM in your tenant' },
  'vm:placement': global(
    ['admin', 'operator', 'member'],
    'Explain where a new VM would go (a dry-run; members learn counts per filter, never hosts)',
  ),
  'vm:action': tenantWrite('Start, stop, reboot, suspend, resume, snapshot, restore, resize, clone, delete'),
  'vm:reset': global(
    ADMIN,
    "Reset a VM's recorded state to running or error (repairs; Nova's os-resetState)",
  ),
  'vm:migrate': {
    roles: ['admin', 'operator', 'member'],
    scope: 'tenant',
    anyTenant: OPS,
    summary: 'Live-migrate a VM',
  },
  // The log may hold what a guest prints (keys, passwords): its tenant and admins only, not operators.
  'vm:console-log': {
    roles: ALL,
    scope: 'tenant',
    anyTenant: ADMIN,
    summary: "Read a VM's serial console log",
  },
  'vm:console': tenantWrite("Open a VM's interactive serial console (a one-time ticket for its WebSocket)"),
  'operation:read': tenantRead('Poll an operation'),
  'event:read': tenantRead('Read the audit trail'),
  'server-group:read': tenantRead('List and read server groups'),
  'server-group:write': tenantWrite('Create and delete server groups'),
  'constraint:read': tenantRead('List and read placement constraints'),
  'constraint:write': tenantWrite('Create and delete placement constraints'),
  'scaling-group:read': tenantRead('List and read autoscaling groups'),
  'scaling-group:write': tenantWrite('Create, change, delete autoscaling groups; report their metric'),

  // a tenant's networks (issue 12)
  'network:read': tenantRead('List and read networks (and the external networks, name and CIDR only)'),
  'network:write': tenantWrite('Create and delete networks'),
  'network:external': global(
    ADMIN,
    'Create and delete external (provider) networks and their floating IP pools',
  ),
  'port:read': tenantRead('List and read ports'),
  'port:write': tenantWrite('Create, change (security groups) and delete ports'),
  'security-group:read': tenantRead('List and read security groups and their rules'),
  'security-group:write': tenantWrite('Create and delete security groups and their rules'),
  'floating-ip:read': tenantRead('List and read floating IPs'),
  'floating-ip:write': tenantWrite('Allocate, attach, detach and release floating IPs'),
  'keypair:read': tenantRead('List and read key pairs (public keys)'),
  'keypair:write': tenantWrite('Import and delete key pairs'),

  // billing
  'usage:read': { roles: ALL, scope: 'tenant', anyTenant: ADMIN, summary: "Read a tenant's usage" },
  'invoice:read': { roles: ALL, scope: 'tenant', anyTenant: ADMIN, summary: "Read a tenant's invoice" },
  'tariff:read': global(ALL, 'List tariffs'),
  'tariff:write': global(ADMIN, 'Create, change and delete tariffs'),

  // security
  'security-event:read': global(ADMIN, 'Read the security event log (failed logins, denied actions, tokens)'),
} as const satisfies Record<string, PolicyRule>;

/** An operation of the policy table, e.g. `'vm:create'`. */
export type Operation = keyof typeof POLICY;

/** The rule of an operation (a RangeError for an operation not in the table: a bug). */
export function ruleOf(op: Operation): PolicyRule {
  const r = (POLICY as Record<string, PolicyRule>)[op];
  if (!r) throw new RangeError(`No policy rule for operation "${op}"`);
  return r;
}

/** What a refusal of the policy table was about, for the security log (never in the answer). */
export interface Denial {
  /** The operation refused. */
  readonly operation: Operation;
  /** Why, for a 404: the object is another tenant's or another user's. Absent for a 403. */
  readonly reason?: 'other-tenant' | 'other-user';
  /** The kind of object (`vm`, `operation`, `scaling group` ...) and the id or name asked for. */
  readonly kind?: string;
  readonly id?: string;
}

/** The object a 404 is about, for the security log: its kind and the reference asked for. */
export interface ObjectRef {
  readonly kind: string;
  readonly id: string;
}

/**
 * The errors the policy table raised (FORBIDDEN, or NOT_FOUND for an object out of reach), with
 * what they refused: the API records them in the security log. Kept beside the error, not in it, so
 * the answer to another tenant's object stays identical to the answer to a missing one.
 */
const denials = new WeakMap<Error, Denial>();

/** What the policy table refused, when `e` is such a refusal (else undefined). */
export function denialOf(e: unknown): Denial | undefined {
  return e instanceof Error ? denials.get(e) : undefined;
}

/** The operation the policy table refused, when `e` is such a refusal (else undefined). */
export function deniedOperation(e: unknown): Operation | undefined {
  return denialOf(e)?.operation;
}

const denied = (e: ControlError, op: Operation, more: Omit<Denial, 'operation'> = {}): ControlError => {
  denials.set(e, { operation: op, ...more });
  return e;
};

/** Whether the subject's role may perform the operation at all (ignoring whose object it is). */
export function allows(s: Pick<Subject, 'role'>, op: Operation): boolean {
  return ruleOf(op).roles.includes(s.role);
}

/**
 * Check the subject's role against the operation's rule, first thing in every service method.
 * Throws FORBIDDEN naming the operation, the roles it needs and the caller's role.
 * @example authorize(p, 'vm:create') // throws for a reader
 */
export function authorize(s: Pick<Subject, 'role'>, op: Operation): void {
  const r = ruleOf(op);
  if (!r.roles.includes(s.role))
    throw denied(
      new ControlError(
        'FORBIDDEN',
        `${op} (${r.summary.toLowerCase()}) needs role ${r.roles.join(' or ')}; you are ${s.role}`,
        { operation: op, roles: [...r.roles], role: s.role },
      ),
      op,
    );
}

/** Whether the subject reaches every tenant's objects for this operation (not only its own). */
export function reachesAllTenants(s: Pick<Subject, 'role'>, op: Operation): boolean {
  const r = ruleOf(op);
  if (r.scope === 'global') return r.roles.includes(s.role);
  return (r.anyTenant ?? []).includes(s.role);
}

/**
 * The tenant a listing must be limited to: the subject's own tenant, or `undefined` when it
 * reaches every tenant's objects. Call after `authorize`.
 */
export function tenantFilter(s: Subject, op: Operation): string | undefined {
  return reachesAllTenants(s, op) ? undefined : s.tenantId;
}

/**
 * Authorize an operation on an object a tenant owns: FORBIDDEN when the role lacks the rule;
 * NOT_FOUND (`notFound`, the message a missing object would get) when the object belongs to
 * another tenant the subject does not reach, so its existence is not confirmed (the API records
 * that refusal as `access.denied`, reason `other-tenant`, with `object`'s kind and id).
 * @example authorizeTenantObject(p, 'vm:action', vm.tenant_id, `No VM "${ref}"`, { kind: 'vm', id: ref })
 */
export function authorizeTenantObject(
  s: Subject,
  op: Operation,
  ownerTenantId: string,
  notFound: string,
  object?: ObjectRef,
): void {
  authorize(s, op);
  if (ownerTenantId !== s.tenantId && !reachesAllTenants(s, op))
    throw denied(new ControlError('NOT_FOUND', notFound), op, { reason: 'other-tenant', ...object });
}

/**
 * Authorize an operation on an object a user owns (a token): FORBIDDEN when the role lacks the
 * rule; NOT_FOUND when it is another user's and the role does not reach every user's.
 */
export function authorizeUserObject(
  s: Subject,
  op: Operation,
  ownerUserId: string,
  notFound: string,
  object?: ObjectRef,
): void {
  authorize(s, op);
  if (ownerUserId !== s.userId && !(ruleOf(op).anyUser ?? []).includes(s.role))
    throw denied(new ControlError('NOT_FOUND', notFound), op, { reason: 'other-user', ...object });
}

/** Whether the subject may act on every user's objects for this operation (a `scope: 'user'` rule). */
export function reachesAllUsers(s: Pick<Subject, 'role'>, op: Operation): boolean {
  return (ruleOf(op).anyUser ?? []).includes(s.role);
}

/** The policy table as rows (operation, roles, reach, summary): for docs and the matrix test. */
export function policyRows(): { operation: Operation; roles: Role[]; reach: string; summary: string }[] {
  return (Object.keys(POLICY) as Operation[]).map((operation) => {
    const r = ruleOf(operation);
    const reach =
      r.scope === 'global'
        ? 'global'
        : r.scope === 'user'
          ? `own (the caller's); all users: ${(r.anyUser ?? []).join(', ') || 'nobody'}`
          : `own tenant; all tenants: ${(r.anyTenant ?? []).join(', ') || 'nobody'}`;
    return { operation, roles: [...r.roles], reach, summary: r.summary };
  });
}
