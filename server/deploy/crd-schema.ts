import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * A CRD's structural OpenAPI v3 schema applied the way the API server does
 * with strict field validation (kubectl's default): a field the schema does
 * not declare is an error unless `x-kubernetes-preserve-unknown-fields` or
 * `additionalProperties` allows it. Covers what CRD schemas use: type,
 * properties, additionalProperties, items, required, enum, minimum/maximum,
 * x-kubernetes-int-or-string. Formats, oneOf/anyOf value constraints and CEL
 * rules are not checked, nor values under a schema that declares nothing.
 */

export interface Schema {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly additionalProperties?: Schema | boolean;
  readonly items?: Schema;
  readonly required?: readonly string[];
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly 'x-kubernetes-int-or-string'?: boolean;
}

/** The openAPIV3Schema of one version of a CRD file. */
export function crdSchema(file: string, version: string): Schema {
  const crd = parse(readFileSync(file, 'utf8'));
  const served = crd.spec.versions.find((v: { name: string }) => v.name === version);
  if (!served) throw new Error(`${file} has no version ${version}`);
  return served.schema.openAPIV3Schema as Schema;
}

/** Every problem with `value` under `schema`, each as `path: what`. Kubernetes adds apiVersion, kind and metadata to every CRD's schema. */
export function validateObject(schema: Schema, value: unknown): string[] {
  const problems: string[] = [];
  const root: Schema = {
    ...schema,
    // metadata is ObjectMeta whatever the CRD says: the API server checks it, not the CRD's schema.
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, ...schema.properties, metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  };
  check(root, value, '', problems);
  return problems;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function check(schema: Schema, value: unknown, at: string, problems: string[]): void {
  const where = at || '(root)';
  const actual = typeOf(value);
  if (schema['x-kubernetes-int-or-string']) {
    if (actual !== 'integer' && actual !== 'string') problems.push(`${where}: must be an integer or a string, not ${actual}`);
    return;
  }
  if (!schema.type && !schema.properties && !schema.items) return;
  if (schema.type) {
    const fits = schema.type === actual || (schema.type === 'number' && actual === 'integer');
    if (!fits) {
      problems.push(`${where}: must be ${schema.type}, not ${actual}`);
      return;
    }
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${where}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, not ${JSON.stringify(value)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${where}: must be at least ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${where}: must be at most ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((item, i) => check(schema.items!, item, `${at}[${i}]`, problems));
    return;
  }
  if (actual !== 'object') return;
  const object = value as Record<string, unknown>;
  for (const key of schema.required ?? []) if (!(key in object)) problems.push(`${at ? `${at}.` : ''}${key}: is required`);
  for (const [key, child] of Object.entries(object)) {
    const path = at ? `${at}.${key}` : key;
    const declared = schema.properties?.[key];
    if (declared) check(declared, child, path, problems);
    else if (typeof schema.additionalProperties === 'object') check(schema.additionalProperties, child, path, problems);
    else if (schema.additionalProperties === true || schema['x-kubernetes-preserve-unknown-fields']) continue;
    else problems.push(`${path}: unknown field`);
  }
}
