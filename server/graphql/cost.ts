/**
 * What a GraphQL query costs, counted before anything runs, so that one small query
 * cannot fan out into thousands of REST calls and rows (issue 13: 15 aliases of
 * `listProperties(limit: 100) { data { host { name } } }` made ~1,500 internal calls).
 *
 * graphql-query-complexity walks the query (fragments, aliases, @skip/@include,
 * variables and argument defaults included); the estimator below gives each field
 *
 *   cost = 1 + (10 if it calls a REST operation: a root field or a link)
 *            + (page size, or 1) × the cost of its children
 *
 * where the page size is the field's `limit` argument (or the spec's default for it,
 * capped at the spec's maximum); a link to a paged operation (property → reviews)
 * counts that operation's default page. A list inside an answer that is not a page
 * (a wishlist's items) multiplies its children by the most items it can hold (the
 * spec's `maxItems`, or a tighter bound the server keeps, MAX_WISHLIST_ITEMS) when
 * its items call REST (wishlist → items → property → host): 15 aliases of a full
 * wishlist's hosts are 1,500 link calls, the fan-out issue 13 closed for pages. graphql-armor's cost limit, used before,
 * multiplies only by literal `first`/`last` arguments, so it could not count our
 * `limit` (nor a limit given as a variable).
 */
import { GraphQLError, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';
import type { Document } from 'openapi-backend';
import { planOf } from './resolve.js';

/** What one REST call weighs against one field of its answer. */
export const REST_CALL_COST = 10;

interface PageSize {
  default: number;
  maximum: number;
}

/** The `limit` query parameter of each operation that has one, from the spec. */
export function pageSizes(spec: Document): Map<string, PageSize> {
  const sizes = new Map<string, PageSize>();
  const components = (spec.components?.parameters ?? {}) as Record<string, unknown>;
  const resolve = (parameter: unknown) => {
    const ref = (parameter as { $ref?: string }).$ref;
    return (ref ? components[ref.replace('#/components/parameters/', '')] : parameter) as
      | { name?: string; in?: string; schema?: { default?: number; maximum?: number } }
      | undefined;
  };
  for (const item of Object.values(spec.paths ?? {})) {
    for (const operation of Object.values(item ?? {}) as { operationId?: string; parameters?: unknown[] }[]) {
      if (typeof operation !== 'object' || !operation?.operationId) continue;
      const limit = (operation.parameters ?? []).map(resolve).find((p) => p?.name === 'limit' && p.in === 'query');
      if (limit?.schema?.maximum !== undefined) {
        sizes.set(operation.operationId, { default: limit.schema.default ?? limit.schema.maximum, maximum: limit.schema.maximum });
      }
    }
  }
  return sizes;
}

/**
 * The most items of each list property of the spec's schemas that is not a page's
 * `data` (pages are counted by their operation's limit), as `Schema.property`;
 * `tighter` holds bounds the server keeps below the spec's.
 */
export function listBounds(spec: Document, tighter: Record<string, number> = {}): Map<string, number> {
  const bounds = new Map<string, number>();
  const schemas = (spec.components?.schemas ?? {}) as Record<string, { properties?: Record<string, { type?: string; maxItems?: number }> }>;
  for (const [name, schema] of Object.entries(schemas)) {
    const properties = schema.properties ?? {};
    for (const [property, definition] of Object.entries(properties)) {
      if (definition.type !== 'array' || definition.maxItems === undefined) continue;
      if (property === 'data' && 'next_cursor' in properties) continue;
      bounds.set(`${name}.${property}`, definition.maxItems);
    }
  }
  for (const [key, bound] of Object.entries(tighter)) bounds.set(key, Math.min(bound, bounds.get(key) ?? bound));
  return bounds;
}

function estimator(schema: GraphQLSchema, sizes: Map<string, PageSize>, bounds: Map<string, number>): ComplexityEstimator {
  return ({ type, field, args, childComplexity }) => {
    const plan = planOf(schema, field);
    if (!plan) {
      // Only lists whose items call REST fan out; a list of plain values costs what it reads.
      const bound = childComplexity >= REST_CALL_COST ? bounds.get(`${type.name}.${field.name}`) : undefined;
      return 1 + (bound ?? 1) * childComplexity;
    }
    const size = sizes.get(plan.operation.operationId);
    let multiplier = 1;
    if (size) {
      // A root field takes `limit`; a link cannot, so its operation answers its default page.
      const asked = plan.kind === 'operation' && typeof args.limit === 'number' ? args.limit : size.default;
      // REST refuses a limit over the maximum, so it never reads more than that.
      multiplier = Math.min(Math.max(asked, 1), size.maximum);
    }
    return 1 + REST_CALL_COST + multiplier * childComplexity;
  };
}

/**
 * Refuses a query over `maxCost` before any resolver runs, with a GraphQL error whose
 * `extensions` hold `code: query_too_costly`, `status: 400`, the `cost` and the `limit`.
 * Runs at execution (where variables are known), after validation.
 */
export function costLimitPlugin(spec: Document, maxCost: number, tighterBounds: Record<string, number> = {}): Plugin {
  const sizes = pageSizes(spec);
  const bounds = listBounds(spec, tighterBounds);
  const estimators = new WeakMap<GraphQLSchema, ComplexityEstimator>();
  // yoga reuses the parsed document of a repeated query, so its cost (which depends only on the
  // schema, the operation and the variables) is remembered with it: walking the query each time
  // was 7 % of a getProperty request's CPU.
  const known = new WeakMap<DocumentNode, Map<string, number>>();
  const costOf = (schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined) => {
    const key = JSON.stringify([operationName ?? null, variables]);
    const costs = known.get(document) ?? new Map<string, number>();
    known.set(document, costs);
    let cost = costs.get(key);
    if (cost === undefined) {
      let estimate = estimators.get(schema);
      if (!estimate) estimators.set(schema, (estimate = estimator(schema, sizes, bounds)));
      cost = getComplexity({ schema, query: document, variables, operationName, estimators: [estimate] });
      // Bounded: a query sent with ever new variables keeps only its latest costs.
      if (costs.size >= 64) costs.clear();
      costs.set(key, cost);
    }
    return cost;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      let cost: number;
      try {
        cost = costOf(args.schema, args.document, (args.variableValues ?? {}) as Record<string, unknown>, args.operationName ?? undefined);
      } catch {
        // Variables that do not fit their types: execution reports that itself, before any resolver runs.
        return;
      }
      if (cost > maxCost) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(`This query costs ${cost}, over the limit of ${maxCost}: ask for smaller pages (limit) or fewer linked fields.`, {
              extensions: { code: 'query_too_costly', status: 400, cost, limit: maxCost },
            }),
          ],
        });
      }
    },
  };
}
