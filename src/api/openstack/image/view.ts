/**
 * Glance v2's image document from nubis's image record, and the JSON Schema documents of
 * `/v2/schemas/image(s)` (https://docs.openstack.org/api-ref/image/v2/#image-schemas).
 */
import type { ImageRecord } from '../../../control/storage/image-records.ts';

/** Glance's time format: ISO 8601 UTC to the second. */
export const glanceTime = (iso: string | null) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : null);

/** The fields every image document has (custom properties are the other top-level keys). */
export const CORE_FIELDS = [
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'os_hidden',
  'owner',
  'container_format',
  'disk_format',
  'min_disk',
  'min_ram',
  'size',
  'virtual_size',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'tags',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
] as const;

/** An image as Glance v2 answers it (https://docs.openstack.org/api-ref/image/v2/#show-image). */
export function glanceImage(i: ImageRecord): Record<string, unknown> {
  const data = i.status !== 'queued' && i.status !== 'saving' && i.sha256 !== null;
  return {
    ...(JSON.parse(i.properties) as Record<string, string>),
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected === 1,
    os_hidden: i.os_hidden === 1,
    owner: i.tenant_id,
    // Images registered by nubis's own API (the catalog's, `POST /v1/images`) declare no formats: theirs.
    container_format: i.container_format ?? (i.status === 'queued' ? null : 'bare'),
    disk_format: i.disk_format ?? (i.status === 'queued' ? null : i.format === 'qcow2' ? 'qcow2' : 'raw'),
    min_disk: i.min_disk,
    min_ram: i.min_ram,
    size: data ? Number(i.size_bytes) : null,
    virtual_size: data && i.virtual_size_bytes !== null ? Number(i.virtual_size_bytes) : null,
    checksum: data ? i.md5 : null,
    os_hash_algo: data && i.sha512 ? 'sha512' : null,
    os_hash_value: data ? i.sha512 : null,
    tags: JSON.parse(i.tags) as string[],
    created_at: glanceTime(i.created_at),
    updated_at: glanceTime(i.updated_at ?? i.created_at),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

const nullable = (type: string, more: object = {}) => ({ type: [type, 'null'], ...more });

/** `GET /v2/schemas/image`: the image document's JSON Schema. */
export function imageSchema() {
  return {
    name: 'image',
    additionalProperties: { type: 'string' },
    properties: {
      id: {
        type: 'string',
        description: 'An identifier for the image',
        pattern: '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$',
      },
      name: nullable('string', { description: 'Descriptive name for the image', maxLength: 255 }),
      status: {
        type: 'string',
        readOnly: true,
        description: 'Status of the image',
        enum: ['queued', 'saving', 'active', 'killed', 'deleted', 'deactivated'],
      },
      visibility: {
        type: 'string',
        description: 'Scope of image accessibility',
        enum: ['public', 'private', 'shared', 'community'],
      },
      protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
      os_hidden: {
        type: 'boolean',
        description: 'If true, image will not appear in default image list response.',
      },
      owner: nullable('string', { description: 'Owner of the image', maxLength: 255 }),
      container_format: nullable('string', {
        description: 'Format of the container',
        enum: [null, 'bare', 'ovf'],
      }),
      disk_format: nullable('string', { description: 'Format of the disk', enum: [null, 'raw', 'qcow2'] }),
      min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
      min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
      size: nullable('integer', { readOnly: true, description: 'Size of image file in bytes' }),
      virtual_size: nullable('integer', { readOnly: true, description: 'Virtual size of image in bytes' }),
      checksum: nullable('string', {
        readOnly: true,
        description: 'md5 hash of image contents.',
        maxLength: 32,
      }),
      os_hash_algo: nullable('string', {
        readOnly: true,
        description: 'Algorithm to calculate the os_hash_value',
      }),
      os_hash_value: nullable('string', { readOnly: true, description: 'Hexdigest of the image contents' }),
      tags: {
        type: 'array',
        description: 'List of strings related to the image',
        items: { type: 'string', maxLength: 255 },
      },
      created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
      updated_at: {
        type: 'string',
        readOnly: true,
        description: 'Date and time of the last image modification',
      },
      self: { type: 'string', readOnly: true, description: 'An image self url' },
      file: { type: 'string', readOnly: true, description: 'An image file url' },
      schema: { type: 'string', readOnly: true, description: 'An image schema url' },
    },
    links: [
      { rel: 'self', href: '{self}' },
      { rel: 'enclosure', href: '{file}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}

/** `GET /v2/schemas/images`: the image list's JSON Schema. */
export function imagesSchema() {
  return {
    name: 'images',
    properties: {
      images: { type: 'array', items: imageSchema() },
      schema: { type: 'string' },
      first: { type: 'string' },
      next: { type: 'string' },
    },
    links: [
      { rel: 'first', href: '{first}' },
      { rel: 'next', href: '{next}' },
      { rel: 'describedby', href: '{schema}' },
    ],
  };
}
