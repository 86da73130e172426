/** The control plane's tables (kysely types). Times are ISO-8601 strings; JSON columns are text. */
import type { Generated } from 'kysely';

export interface TenantTable {
  id: string;
  name: string;
  quota_vcpus: number;
  quota_memory_mib: number;
  quota_vms: number;
  quota_disk_gib: number;
  created_at: string;
  /** Usage counters, changed in the same transaction as the VMs they count. */
  used_vms: Generated<number>;
  used_vcpus: Generated<number>;
  used_memory_mib: Generated<number>;
  used_disk_gib: Generated<number>;
  /** Set when deleted (kept for history: invoices and events name it). */
  deleted_at: Generated<string | null>;
  /** Network quotas (migration 0700-network). */
  quota_networks: Generated<number>;
  quota_ports: Generated<number>;
  quota_floating_ips: Generated<number>;
  quota_security_groups: Generated<number>;
  quota_keypairs: Generated<number>;
  /** Storage quotas (migration 0800-storage). */
  quota_volumes: Generated<number>;
  quota_volume_gib: Generated<number>;
  quota_volume_snapshots: Generated<number>;
  /** Keystone's project description (migration 0960). */
  description: Generated<string | null>;
  /** 0: disabled by an admin, nobody acts in it (migration 0972). */
  enabled: Generated<number>;
  /** 'shared' (its VMs' pages may be merged) or 'private' (mem-merge off), migration 0980. */
  memory_sharing: Generated<string>;
}
export interface UserTable {
  id: string;
  /** The home tenant (null: a Keystone user with role assignments only). */
  tenant_id: string | null;
  name: string;
  role: string;
  created_at: string;
  /** scrypt (tenancy/passwords.ts); null: no password login. */
  password_hash: Generated<string | null>;
  domain_id: Generated<string>;
  /** 1 or 0. */
  enabled: Generated<number>;
  default_project_id: Generated<string | null>;
  description: Generated<string | null>;
  email: Generated<string | null>;
}
/** A user's role on a tenant (Keystone project) beside its home (migration 0960). */
export interface RoleAssignmentTable {
  user_id: string;
  tenant_id: string;
  role: string;
  created_at: string;
}
/** A user's application credential for one tenant (the secret's hash only; roles a JSON list). */
export interface AppCredentialTable {
  id: string;
  user_id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  secret_hash: string;
  roles: string;
  /** As the client sent it (Keystone echoes it), null: never. */
  expires_at: string | null;
  created_at: string;
}
export interface TokenTable {
  id: string;
  user_id: string;
  name: string;
  hash: string;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
  /** Keystone tokens (methods set): the project scope, null = unscoped. */
  scope_tenant_id: Generated<string | null>;
  /** Keystone's methods (JSON list); null: a plain nubis token (home tenant and role). */
  methods: Generated<string | null>;
  audit_id: Generated<string | null>;
  app_credential_id: Generated<string | null>;
}
export interface HostTable {
  id: string;
  name: string;
  state: string;
  vcpus: number;
  memory_mib: number;
  disk_gib: number;
  cpu_ratio: number;
  memory_ratio: number;
  disk_ratio: number;
  reserved_vcpus: number;
  reserved_memory_mib: number;
  reserved_disk_gib: number;
  datacenter: string;
  rack: string;
  driver: string;
  agent_url: string | null;
  power_model: string;
  created_at: string;
  /** Sum of the flavors of the live VMs placed here (changed in the same transaction as the VMs). */
  used_vcpus: Generated<number>;
  used_memory_mib: Generated<number>;
  used_disk_gib: Generated<number>;
  vm_count: Generated<number>;
  /** Last heartbeat from the host's agent. */
  last_seen_at: string | null;
  /** MAC or BMC address the power-control command gets; last time energy was integrated; CPU utilization samples, newest first (JSON). */
  power_address: string | null;
  energy_at: string | null;
  cpu_history: Generated<string>;
  cpu_times: Generated<string>;
  /** A simulated host switching on is up from this time. */
  boot_until: string | null;
  /** Service tier (e.g. "general", "gpu", "gold") and availability zone. */
  tier: Generated<string>;
  zone: Generated<string>;
  /** Set when deleted (kept for history: invoices and events name it). */
  deleted_at: Generated<string | null>;
  /** SHA-256 of the credential the host's agent presents (set at enrollment). */
  credential_hash: Generated<string | null>;
  /** The credential the control plane presents to the host's agent (issued by the agent at enrollment). */
  agent_credential: Generated<string | null>;
  /** The address other hosts reach this one at for VXLAN (default: the agent URL's hostname). */
  underlay_ip: Generated<string | null>;
  /** JSON array of the provider/external physical networks this host is wired to. */
  physnets: Generated<string>;
  /** JSON array of the storage pools (names) this host sees (migration 0800-storage). */
  pools: Generated<string>;
  /** Bumped by triggers when anything placement reads changes (migration 0910-host-version). */
  version: Generated<number | string | bigint>;
  /** 'static' (flavor × memory_ratio) or 'measured' (memory-overcommit policy), migration 0980. */
  memory_policy: Generated<string>;
  /** Accepted probability that a measured host's VMs need more memory than it has. */
  memory_risk: Generated<number>;
  /** Share of each VM's flavor memory guaranteed on a measured host (never overcommitted). */
  memory_guarantee: Generated<number>;
}
/** A VM's latest measured memory (migration 0980): the agent's profile and its working set's statistics. */
export interface VmMemoryProfileTable {
  vm_id: string;
  host_id: string;
  measured_at: string;
  memory_mib: number;
  resident_mib: number;
  working_set_mib: number;
  /** Exponentially weighted mean, deviation and variance of the working set, MiB (MiB²). */
  ws_mean_mib: number;
  ws_sd_mib: number;
  ws_var_mib2: number;
  samples: number;
  /** 1 or 0. */
  mergeable: number;
  /** The PageFingerprint as JSON (hashes and counts only), or null. */
  fingerprint: string | null;
}
/** One-time join tokens an admin creates for host enrollment (only their hash is kept). */
export interface JoinTokenTable {
  id: string;
  name: string;
  hash: string;
  expires_at: string;
  created_by: string;
  created_at: string;
  used_at: string | null;
  host_id: string | null;
}
export interface FlavorTable {
  id: string;
  name: string;
  vcpus: number;
  memory_mib: number;
  disk_gib: number;
  created_at: string;
  /** Set when deleted (kept for history: invoices and events name it). */
  deleted_at: Generated<string | null>;
}
export interface ImageTable {
  id: string;
  name: string;
  format: string;
  size_mib: number;
  created_at: string;
  /** Set when deleted (kept for history: invoices and events name it). */
  deleted_at: Generated<string | null>;
  /** Registry fields (migration 0800-storage): the owner (null: the cloud's catalog), `public` or `private`. */
  tenant_id: Generated<string | null>;
  visibility: Generated<string>;
  /** `queued` while its data is uploaded, then `active`. */
  status: Generated<string>;
  sha256: Generated<string | null>;
  size_bytes: Generated<number | null>;
  virtual_size_bytes: Generated<number | null>;
  /** The stored file's name under the image folder (uploaded images). */
  file: Generated<string | null>;
  /** Glance's fields (migration 0966-glance-images): declared formats (`bare`/`ovf`, `qcow2`/`raw`). */
  container_format: Generated<string | null>;
  disk_format: Generated<string | null>;
  /** Minimum disk (GiB) and memory (MiB) a VM booted from it needs. */
  min_disk: Generated<number>;
  min_ram: Generated<number>;
  /** 1: cannot be deleted; 1: left out of listings unless asked for. */
  protected: Generated<number>;
  os_hidden: Generated<number>;
  /** JSON: a list of strings; an object of custom string properties. */
  tags: Generated<string>;
  properties: Generated<string>;
  /** Lower-case hex MD5 and SHA-512 of the uploaded data. */
  md5: Generated<string | null>;
  sha512: Generated<string | null>;
  updated_at: Generated<string | null>;
}
/** A tenant an image is shared with (migration 0966-glance-images): `pending`, `accepted` or `rejected`. */
export interface ImageMemberTable {
  image_id: string;
  member_id: string;
  status: string;
  created_at: string;
  updated_at: string;
}
export interface ServerGroupTable {
  id: string;
  tenant_id: string;
  name: string;
  policy: string;
  created_at: string;
  /** Set when deleted (kept for history: invoices and events name it). */
  deleted_at: Generated<string | null>;
  /** At most this many members on one host; spread members over `rack`, `zone` or `datacenter`. */
  max_per_host: Generated<number | null>;
  spread_over: Generated<string | null>;
  /** Who created it (migration 0964-nova-resources; null for older groups). */
  user_id: Generated<string | null>;
}
export interface VmTable {
  id: string;
  tenant_id: string;
  name: string;
  flavor_id: string;
  image_id: string;
  host_id: string | null;
  server_group_id: string | null;
  state: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  /** Restart elsewhere when its host fails; higher priority first. */
  ha: Generated<number>;
  ha_priority: Generated<number>;
  /** Autoscaling group it belongs to. */
  scaling_group_id: string | null;
  /** CPU utilization samples of its vCPUs, newest first (JSON array). */
  cpu_history: Generated<string>;
  /** When each sample of cpu_history was taken (epoch s), same order. */
  cpu_times: Generated<string>;
  /** The zone and tier the VM asked for when created (every later move keeps them). */
  zone: Generated<string | null>;
  tier: Generated<string | null>;
  /** The key pair (name) and user data given at creation (metadata service). */
  key_name: Generated<string | null>;
  user_data: Generated<string | null>;
  /** Nova's server attributes (migration 0962): the creator, metadata (JSON object), tags (JSON array)... */
  user_id: Generated<string | null>;
  metadata: Generated<string>;
  tags: Generated<string>;
  description: Generated<string | null>;
  /** 1: actions by its non-admin owner are refused (Nova's lock). */
  locked: Generated<number>;
  access_ipv4: Generated<string>;
  access_ipv6: Generated<string>;
  /** Nova's OS-DCF:diskConfig (AUTO or MANUAL). */
  disk_config: Generated<string>;
  /** 1: a suspended VM was paused (Nova's PAUSED), 0: suspended (SUSPENDED). */
  paused: Generated<number>;
  launched_at: Generated<string | null>;
}
/** A placement constraint (src/core/constraints): `spec` is JSON with `vms` (ids) and the type's parameters. */
export interface ConstraintTable {
  id: string;
  tenant_id: string;
  name: string;
  type: string;
  hard: number;
  spec: string;
  created_at: string;
}
export interface OperationTable {
  id: string;
  tenant_id: string;
  vm_id: string | null;
  kind: string;
  status: string;
  idempotency_key: string | null;
  result: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  /** The last step recorded (`recorded`, `driver`, ..., `reconciled:completed`). */
  step: Generated<string | null>;
  /** The host the operation acts on (the VM's, or the source of a migration). */
  host_id: Generated<string | null>;
  /** Where a migration or an HA restart goes (holds a claim there while running). */
  target_host_id: Generated<string | null>;
  updated_at: Generated<string | null>;
  /** JSON: what the reconciler needs to finish or roll back (e.g. the plan, the requested flavor). */
  detail: Generated<string | null>;
}
export interface EventTable {
  id: Generated<number>;
  at: string;
  tenant_id: string | null;
  vm_id: string | null;
  host_id: string | null;
  actor: string | null;
  kind: string;
  detail: string;
}

/** One stretch of a VM in one billing class (running: everything; stopped: disk only). */
export interface UsageTable {
  id: Generated<number>;
  vm_id: string;
  tenant_id: string;
  host_id: string | null;
  flavor_id: string;
  class: string;
  start_at: string;
  end_at: string | null;
}
export interface TariffTable {
  id: string;
  name: string;
  valid_from: string;
  valid_to: string | null;
  currency: string;
  vcpu_hour: number;
  memory_gib_hour: number;
  disk_gib_hour: number;
  kwh: number;
  created_at: string;
  /** Price of one floating IP allocated for one hour (migration 0700-network). */
  floating_ip_hour: Generated<number>;
  /** Price of one GiB of volume for one hour (migration 0800-storage). */
  volume_gib_hour: Generated<number>;
}

export interface PlanTable {
  id: string;
  status: string;
  created_at: string;
  created_by: string;
  summary: string;
  actions: string;
  result: string | null;
  finished_at: string | null;
  zone: string | null;
}
/** Energy drawn, J, per scope (host, zone, tenant) and reference, per UTC day. */
export interface EnergyTable {
  scope: string;
  ref: string;
  day: string;
  joules: number;
}

export interface SettingTable {
  key: string;
  value: string;
}
export interface ScalingGroupTable {
  id: string;
  tenant_id: string;
  name: string;
  flavor_id: string;
  image_id: string;
  server_group_id: string;
  min: number;
  max: number;
  desired: number;
  policy: string;
  scale_in: string;
  last_scaled_at: string | null;
  created_at: string;
}

/** A used Idempotency-Key: its scope, the request's hash and (once answered) the answer. */
export interface IdempotencyKeyTable {
  tenant_id: string;
  method: string;
  route: string;
  key: string;
  body_hash: string;
  status: number | null;
  response: string | null;
  created_at: string;
}

/** The security event log (migration 0600-security); see control/security/security-log.ts. */
export interface SecurityEventTable {
  id: Generated<number>;
  at: string;
  kind: string;
  /** The user (name) who acted or was refused; null for an unknown token. */
  principal: string | null;
  tenant_id: string | null;
  /** The network address the request came from. */
  source: string | null;
  operation: string | null;
  object: string | null;
  /** JSON; never a secret. */
  detail: string;
}
/** The addresses each token was used from (a new one is a security event). */
export interface TokenAddressTable {
  token_id: string;
  address: string;
  first_seen_at: string;
}
/** A network with its one IPv4 subnet (migration 0700-network). */
export interface NetworkTable {
  id: string;
  tenant_id: string;
  name: string;
  /** `tenant` or `external`. */
  kind: string;
  vni: number;
  cidr: string;
  gateway_ip: string | null;
  dhcp: number;
  /** JSON array of DNS servers. */
  dns: string;
  mtu: number;
  physnet: string | null;
  /** External networks: the floating IP pool `FIRST-LAST`. */
  pool: string | null;
  created_at: string;
  /** Every tenant sees it and may put ports on it (Neutron's `shared`). */
  shared: Generated<number>;
  description: Generated<string>;
  admin_state_up: Generated<number>;
  revision_number: Generated<number>;
  updated_at: string | null;
  /** Its subnet's id (null: no subnet yet, `cidr` is empty). */
  subnet_id: string | null;
  subnet_name: Generated<string>;
  subnet_description: Generated<string>;
  /** JSON array of `{start, end}` (null: the whole subnet but the gateway). */
  allocation_pools: string | null;
  /** JSON array of `{destination, nexthop}`. */
  host_routes: Generated<string>;
  subnet_revision: Generated<number>;
  subnet_created_at: string | null;
  subnet_updated_at: string | null;
}
export interface PortTable {
  id: string;
  tenant_id: string;
  network_id: string;
  vm_id: string | null;
  /** The NIC's position on its VM. */
  slot: Generated<number>;
  /** Created by `vm create --network` (deleted with the VM), not by POST /v1/ports. */
  implicit: number;
  mac: string;
  ip: string;
  /** JSON array of security group ids. */
  security_groups: string;
  created_at: string;
  name: Generated<string>;
  description: Generated<string>;
  admin_state_up: Generated<number>;
  /** What holds a port no VM holds (Neutron's device_id/device_owner as given). */
  device_id: string | null;
  device_owner: string | null;
  revision_number: Generated<number>;
  updated_at: string | null;
}
export interface SecurityGroupTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  created_at: string;
  revision_number: Generated<number>;
  updated_at: string | null;
}
export interface SecurityGroupRuleTable {
  id: string;
  group_id: string;
  tenant_id: string;
  direction: string;
  protocol: string;
  port_min: number | null;
  port_max: number | null;
  remote_cidr: string | null;
  remote_group_id: string | null;
  created_at: string;
  /** `IPv4` or `IPv6` (IPv6 rules are recorded, not yet pushed to hosts). */
  ethertype: Generated<string>;
  description: Generated<string>;
}
export interface FloatingIpTable {
  id: string;
  tenant_id: string;
  network_id: string;
  ip: string;
  port_id: string | null;
  created_at: string;
}
/** One stretch of a floating IP allocated to a tenant (metered by the hour). */
export interface FloatingIpUsageTable {
  id: Generated<number>;
  floating_ip_id: string;
  tenant_id: string;
  ip: string;
  start_at: string;
  end_at: string | null;
}
export interface KeypairTable {
  id: string;
  tenant_id: string;
  user_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  created_at: string;
  /** `ssh` or `x509` (migration 0964-nova-resources). */
  type: Generated<string>;
}
/** A storage pool (migration 0800-storage). */
export interface StoragePoolTable {
  id: string;
  name: string;
  kind: string;
  zone: string | null;
  created_at: string;
}
/** A volume: in a pool, on one host when the pool is local, attached to at most one VM. */
export interface VolumeTable {
  id: string;
  tenant_id: string;
  name: string;
  pool_id: string;
  host_id: string | null;
  size_gib: number;
  state: string;
  vm_id: string | null;
  image_id: string | null;
  source_volume_id: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  /** A label (Cinder's name: not unique, any text); null: none (migration 0970). */
  display_name: string | null;
  description: string | null;
  /** Key/value metadata, JSON text of an object of strings. */
  metadata: Generated<string>;
  /** 1 when the volume can boot a VM (Cinder's flag; set for a copy of an image). */
  bootable: Generated<number>;
  /** The user who created it (null before migration 0970). */
  user_id: string | null;
  /** The current attachment (with `vm_id`): its id, the device asked for and when. */
  attachment_id: string | null;
  attach_device: string | null;
  attached_at: string | null;
}
export interface VolumeSnapshotTable {
  id: string;
  volume_id: string;
  tenant_id: string;
  name: string;
  size_gib: number;
  created_at: string;
}
/** One stretch of a volume's life at one size (metered in GiB-hours). */
export interface VolumeUsageTable {
  id: Generated<number>;
  volume_id: string;
  tenant_id: string;
  size_gib: number;
  start_at: string;
  end_at: string | null;
}
export interface Database {
  storage_pools: StoragePoolTable;
  volumes: VolumeTable;
  volume_snapshots: VolumeSnapshotTable;
  volume_usage: VolumeUsageTable;
  networks: NetworkTable;
  ports: PortTable;
  security_groups: SecurityGroupTable;
  security_group_rules: SecurityGroupRuleTable;
  floating_ips: FloatingIpTable;
  floating_ip_usage: FloatingIpUsageTable;
  keypairs: KeypairTable;
  security_events: SecurityEventTable;
  token_addresses: TokenAddressTable;
  constraints: ConstraintTable;
  idempotency_keys: IdempotencyKeyTable;
  energy: EnergyTable;
  scaling_groups: ScalingGroupTable;
  settings: SettingTable;
  plans: PlanTable;
  usage: UsageTable;
  tariffs: TariffTable;
  tenants: TenantTable;
  users: UserTable;
  tokens: TokenTable;
  role_assignments: RoleAssignmentTable;
  app_credentials: AppCredentialTable;
  hosts: HostTable;
  vm_memory_profiles: VmMemoryProfileTable;
  join_tokens: JoinTokenTable;
  flavors: FlavorTable;
  images: ImageTable;
  image_members: ImageMemberTable;
  server_groups: ServerGroupTable;
  vms: VmTable;
  operations: OperationTable;
  events: EventTable;
}
