/**
 * The spec as the fuzz tests read it: the few schema fields they use, `$ref`
 * resolution, and a plausible valid value for any schema (from its example,
 * default, enum or type), which a fuzzer then breaks one field at a time.
 */
import { randomUUID } from 'node:crypto';
import { fromToday } from './factories.js';

export interface Schema {
  type?: string;
  format?: string;
  enum?: unknown[];
  example?: unknown;
  default?: unknown;
  minimum?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  $ref?: string;
}
export interface Parameter { name: string; in: 'path' | 'query' | 'header'; required?: boolean; schema?: Schema; $ref?: string }
export interface SpecOperation { operationId: string; parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: Schema }> } }
export type Spec = { paths: Record<string, Record<string, unknown> & { parameters?: Parameter[] }>; components: Record<string, Record<string, unknown>> };

export function specSamples(spec: Spec) {
  function resolve<T>(value: T & { $ref?: string }): T {
    if (!value.$ref) return value;
    const [, , section, name] = value.$ref.split('/');
    return resolve(spec.components[section as string]![name as string] as T & { $ref?: string });
  }

  /** A plausible valid value for a schema (its example, default, or one made from its type). */
  function sample(raw: Schema): unknown {
    const schema = resolve(raw);
    if (schema.example !== undefined) return schema.example;
    if (schema.default !== undefined) return schema.default;
    if (schema.enum) return schema.enum[0];
    switch (schema.type) {
      case 'integer':
      case 'number':
        return schema.minimum ?? 1;
      case 'boolean':
        return true;
      case 'array':
        return schema.items ? [sample(schema.items)] : [];
      case 'object':
        return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([key, value]) => [key, sample(value)]));
      default:
        return { uuid: randomUUID(), date: fromToday(60), 'date-time': '2027-03-01T10:00:00Z', email: 'fuzz@example.test', uri: 'https://example.com/x' }[schema.format ?? ''] ?? 'text';
    }
  }
  /**
   * Every operation of the spec with its parameters resolved (an operation's own
   * parameter replacing its path's of the same name and place) and its JSON body schema.
   */
  function operations() {
    return Object.entries(spec.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
        .map(([method, op]) => {
          const operation = op as SpecOperation;
          const own = (operation.parameters ?? []).map((p) => resolve(p));
          const shared = (item.parameters ?? []).map((p) => resolve(p)).filter((p) => !own.some((o) => o.name === p.name && o.in === p.in));
          const bodySchema = operation.requestBody?.content['application/json']?.schema;
          return { path, method, operation, parameters: [...shared, ...own], bodySchema };
        }),
    );
  }
  return { resolve, sample, operations };
}
