/**
 * Migration 0700-network (issue 12): tenant and external networks (one IPv4 subnet each, a
 * cloud-wide unique VNI), ports (MAC, fixed IP unique per network, security groups), security
 * groups and their rules, floating IPs and their metered hours, key pairs; the VM's key pair and
 * user data; the host's underlay address and physnets; the tenant's network quotas; the tariff's
 * price of a floating IP hour.
 */
import type { Kysely, Migration } from 'kysely';

/** The migration, for SQLite (AUTOINCREMENT) or PostgreSQL (identity column). */
export const networkMigration = (isPg: boolean): Migration => ({
  async up(db: Kysely<unknown>) {
    const s = db.schema;
    await s
      .createTable('networks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('vni', 'integer', (c) => c.notNull().unique())
      .addColumn('cidr', 'text', (c) => c.notNull())
      .addColumn('gateway_ip', 'text')
      .addColumn('dhcp', 'integer', (c) => c.notNull())
      .addColumn('dns', 'text', (c) => c.notNull())
      .addColumn('mtu', 'integer', (c) => c.notNull())
      .addColumn('physnet', 'text')
      .addColumn('pool', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('networks_tenant_name', ['tenant_id', 'name'])
      .execute();
    await s
      .createTable('ports')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('network_id', 'text', (c) => c.notNull())
      .addColumn('vm_id', 'text')
      .addColumn('slot', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('implicit', 'integer', (c) => c.notNull())
      .addColumn('mac', 'text', (c) => c.notNull().unique())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('security_groups', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('ports_network_ip', ['network_id', 'ip'])
      .execute();
    await s.createIndex('ports_vm').on('ports').column('vm_id').execute();
    await s
      .createTable('security_groups')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('security_groups_tenant_name', ['tenant_id', 'name'])
      .execute();
    await s
      .createTable('security_group_rules')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('group_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('direction', 'text', (c) => c.notNull())
      .addColumn('protocol', 'text', (c) => c.notNull())
      .addColumn('port_min', 'integer')
      .addColumn('port_max', 'integer')
      .addColumn('remote_cidr', 'text')
      .addColumn('remote_group_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await s
      .createTable('floating_ips')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('network_id', 'text', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('port_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('floating_ips_network_ip', ['network_id', 'ip'])
      .execute();
    await s
      .createTable('floating_ip_usage')
      .addColumn('id', 'integer', (c) =>
        isPg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
      )
      .addColumn('floating_ip_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('ip', 'text', (c) => c.notNull())
      .addColumn('start_at', 'text', (c) => c.notNull())
      .addColumn('end_at', 'text')
      .execute();
    await s
      .createTable('keypairs')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('fingerprint', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('keypairs_tenant_name', ['tenant_id', 'name'])
      .execute();
    await s.alterTable('vms').addColumn('key_name', 'text').execute();
    await s.alterTable('vms').addColumn('user_data', 'text').execute();
    await s.alterTable('hosts').addColumn('underlay_ip', 'text').execute();
    await s
      .alterTable('hosts')
      .addColumn('physnets', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
    await s
      .alterTable('tariffs')
      .addColumn('floating_ip_hour', 'real', (c) => c.notNull().defaultTo(0))
      .execute();
    for (const [col, n] of [
      ['quota_networks', 10],
      ['quota_ports', 50],
      ['quota_floating_ips', 10],
      ['quota_security_groups', 10],
      ['quota_keypairs', 20],
    ] as const)
      await s
        .alterTable('tenants')
        .addColumn(col, 'integer', (c) => c.notNull().defaultTo(n))
        .execute();
  },
});
