/**
 * The conformance run behind `npm run conformance`: requests generated from spec/openapi.yaml (fast-check
 * arbitraries derived from each parameter's and body's schema, seeded) sent to a running deployment, each answer
 * checked against the spec: the status is one the operation lists (`default` does not count: it would accept
 * anything, and a 5xx is never conforming unless listed), the body validates against that response's schema (Ajv,
 * with the spec's formats), and every header the response declares `required` is present and matches its schema.
 * Each failure carries a `curl` line that reproduces it. Written against HTTP only, so it tests any deployment.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';

type Json = Record<string, any>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** Never sent: logout and deleteUser would end the run's own session; the webhook needs the provider's signature. */
const SKIPPED = new Set(['logout', 'deleteUser', 'handlePaymentWebhook']);

export interface ConformanceOptions {
  base: string;
  spec: Json;
  seed?: number;
  /** Generated requests per operation. */
  runs?: number;
  token?: string;
  /**
   * Also send invalid requests (a body of the wrong type, a non-numeric integer, a malformed uuid or date in a
   * path or query parameter): each must get a declared 4xx, never a 2xx or 5xx.
   */
  invalid?: boolean;
  /** Only GET: nothing is created on the target. */
  readOnly?: boolean;
  /** Longest Retry-After (seconds) the run waits out on a 429 before giving up on that request. */
  maxRetryAfter?: number;
  log?: (line: string) => void;
}

export interface Failure {
  operationId: string;
  status: number;
  problems: string[];
  curl: string;
}

export interface ConformanceReport {
  requests: number;
  operations: number;
  failures: Failure[];
  seed: number;
  /** operationId → status → how many answers: shows what the run reached (a getProperty that only saw 404s tested little). */
  statuses: Record<string, Record<string, number>>;
}

interface Operation {
  id: string;
  method: string;
  path: string;
  op: Json;
  params: Json[];
}

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function curlLine(method: string, url: string, body: unknown, authorised: boolean): string {
  const parts = ['curl', '-sS', '-i', '-X', method.toUpperCase(), shellQuote(url)];
  if (authorised) parts.push('-H', '"Authorization: Bearer $TOKEN"');
  if (body !== undefined) parts.push('-H', shellQuote('Content-Type: application/json'), '--data-raw', shellQuote(JSON.stringify(body)));
  return parts.join(' ');
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const spec = options.spec;
  const base = options.base.replace(/\/$/, '');
  const seed = options.seed ?? 1;
  const runs = options.runs ?? 10;
  const log = options.log ?? (() => {});
  const maxRetryAfter = options.maxRetryAfter ?? 5;

  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv, { mode: 'full' });
  ajv.addSchema(spec, 'spec');
  const deref = (node: any): any => {
    let current = node;
    while (current && typeof current.$ref === 'string') {
      current = current.$ref
        .slice(2)
        .split('/')
        .map((part: string) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
        .reduce((at: any, key: string) => at?.[key], spec);
    }
    return current;
  };
  const pointer = (...parts: string[]) => `spec#/${parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
  const validators = new Map<string, ValidateFunction>();
  const validate = (ref: string, value: unknown): string[] => {
    let check = validators.get(ref);
    if (!check) validators.set(ref, (check = ajv.compile({ $ref: ref })));
    return check(value) ? [] : (check.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
  };

  const allOps: Operation[] = Object.entries<Json>(spec.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({
      id: item[method].operationId as string,
      method,
      path,
      op: item[method] as Json,
      params: [...(item.parameters ?? []), ...(item[method].parameters ?? [])].map(deref),
    })),
  );
  const operations = allOps.filter((o) => !SKIPPED.has(o.id) && (!options.readOnly || o.method === 'get'));

  // Ids the run has seen, by the path parameter that names them (`/properties/{property_id}` → property_id),
  // so that generated reads and writes of one resource mostly reach a real one instead of a 404.
  const idParamOf = new Map<string, string>();
  for (const path of Object.keys(spec.paths)) {
    const match = /^\/([^/]+)\/\{([^}]+)\}/.exec(path);
    if (match) idParamOf.set(match[1]!, match[2]!);
  }
  const pools = new Map<string, string[]>();
  const remember = (path: string, body: any) => {
    const param = idParamOf.get(path.split('/')[1] ?? '');
    if (!param || !body || typeof body !== 'object') return;
    const pool = pools.get(param) ?? [];
    for (const item of [body, ...(Array.isArray(body.data) ? body.data : [])]) {
      if (typeof item?.id === 'string' && !pool.includes(item.id)) pool.push(item.id);
    }
    pools.set(param, pool.slice(-20));
  };

  let token = options.token;
  const report: ConformanceReport = { requests: 0, operations: 0, failures: [], seed, statuses: {} };

  async function send(operation: Operation, path: string, query: URLSearchParams, headers: Record<string, string>, body: unknown, invalid = false) {
    const qs = query.toString();
    const url = `${base}${path}${qs ? `?${qs}` : ''}`;
    const secured = operation.op.security ? operation.op.security.length > 0 : (spec.security ?? []).length > 0;
    const authorised = secured && token !== undefined;
    const init: RequestInit = { method: operation.method.toUpperCase(), headers: { ...headers } };
    if (authorised) (init.headers as Record<string, string>).authorization = `Bearer ${token}`;
    if (body !== undefined) {
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      // No answer at all (refused, reset, timed out) is a failure too, with the same curl line.
      report.requests += 1;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const failure = { operationId: operation.id, status: 0, problems: [`no answer: ${cause?.code ?? cause?.message ?? String(error)}`], curl: curlLine(operation.method, url, body, authorised) };
      report.failures.push(failure);
      log(`FAIL ${operation.id}: ${failure.problems[0]}\n  ${failure.curl}`);
      return { status: 0, body: undefined };
    }
    report.requests += 1;
    for (let attempt = 0; response.status === 429 && attempt < 3; attempt += 1) {
      const wait = Number(response.headers.get('retry-after') ?? '1');
      if (!(wait <= maxRetryAfter)) {
        log(`429 with Retry-After ${wait}s on ${operation.id}: run against a deployment with rate limits off (RATE_LIMITS=off) or raise --max-retry-after`);
        break;
      }
      await response.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      response = await fetch(url, init);
      report.requests += 1;
    }
    const text = await bodyText(response);
    const counts = (report.statuses[operation.id] ??= {});
    counts[response.status] = (counts[response.status] ?? 0) + 1;
    const problems = check(operation, response, text);
    if (invalid && (response.status < 400 || response.status >= 500)) problems.unshift(`an invalid request got ${response.status}, not a 4xx`);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (response.status < 300) remember(operation.path, parsed);
    const headerPart = Object.entries(headers).map(([k, v]) => ` -H ${shellQuote(`${k}: ${v}`)}`).join('');
    if (problems.length > 0) {
      const failure = { operationId: operation.id, status: response.status, problems, curl: curlLine(operation.method, url, body, authorised) + headerPart };
      report.failures.push(failure);
      log(`FAIL ${operation.id} ${response.status}: ${problems.join('; ')}\n  ${failure.curl}`);
    }
    return { status: response.status, body: parsed };
  }

  function check(operation: Operation, response: Response, text: string): string[] {
    const problems: string[] = [];
    const status = String(response.status);
    const declared = operation.op.responses?.[status] ?? operation.op.responses?.[`${status[0]}XX`];
    if (!declared) return [`status ${status} is not declared for ${operation.id} (declared: ${Object.keys(operation.op.responses ?? {}).join(', ')})`];
    const declaredResponse = deref(declared);
    const key = operation.op.responses[status] ? status : `${status[0]}XX`;
    for (const [name, header] of Object.entries<Json>(declaredResponse.headers ?? {})) {
      const definition = deref(header);
      const value = response.headers.get(name);
      if (value === null) {
        if (definition.required) problems.push(`header ${name} is declared required but missing`);
        continue;
      }
      if (definition.schema) {
        const schema = deref(definition.schema);
        const typed = schema.type === 'integer' || schema.type === 'number' ? Number(value) : value;
        const errors = ajv.validate(definition.schema.$ref ? { $ref: `spec${definition.schema.$ref}` } : schema, typed) ? [] : (ajv.errors ?? []);
        for (const e of errors) problems.push(`header ${name}: ${JSON.stringify(value)} ${e.message}`);
      }
    }
    const content = declaredResponse.content as Json | undefined;
    if (!content) {
      if (text.length > 0) problems.push(`a body was sent where ${status} declares none`);
      return problems;
    }
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = content[mediaType];
    if (!media) return [...problems, `content type ${mediaType || '(none)'} is not declared (declared: ${Object.keys(content).join(', ')})`];
    if (!media.schema) return problems;
    // A JSON body is checked as JSON; a text one (the first frame of the event stream) as the string it is.
    let body: unknown = text;
    if (/[/+]json$/.test(mediaType)) {
      try {
        body = JSON.parse(text);
      } catch {
        return [...problems, 'body is not JSON'];
      }
    }
    const responsesRef = declared.$ref
      ? `spec${declared.$ref}/content/${mediaType.replaceAll('/', '~1')}/schema`
      : pointer('paths', operation.path, operation.method, 'responses', key, 'content', mediaType, 'schema');
    for (const error of validate(responsesRef, body)) problems.push(`body ${error}`);
    return problems;
  }

  // Values from a schema: valid ones, shaped by type, format, enum and bounds (patterned strings use the spec's example).
  function arbitrary(schemaNode: any, depth = 0): fc.Arbitrary<unknown> {
    const schema = deref(schemaNode) ?? {};
    if (schema.allOf?.length === 1) return arbitrary(schema.allOf[0], depth);
    if (schema.oneOf || schema.anyOf) return fc.oneof(...(schema.oneOf ?? schema.anyOf).map((s: any) => arbitrary(s, depth)));
    if (schema.enum) return fc.constantFrom(...schema.enum);
    if (schema.example !== undefined && schema.pattern) return fc.constant(schema.example);
    switch (schema.type) {
      case 'integer':
        return fc.integer({ min: Math.max(schema.minimum ?? 0, -(2 ** 31)), max: Math.min(schema.maximum ?? 1000, Math.max(schema.minimum ?? 0, -(2 ** 31)) + 10_000) });
      case 'number':
        return fc.integer({ min: Math.ceil(schema.minimum ?? 0), max: Math.floor(schema.maximum ?? 1000) });
      case 'boolean':
        return fc.boolean();
      case 'array':
        return fc.uniqueArray(arbitrary(schema.items, depth + 1), {
          minLength: schema.minItems ?? 0,
          maxLength: Math.min(schema.maxItems ?? 3, (schema.minItems ?? 0) + 3),
          selector: (v) => JSON.stringify(v),
        });
      case 'object': {
        if (depth > 3) return fc.constant({});
        const required = new Set<string>(schema.required ?? []);
        // A field named like a path parameter (`property_id` in a booking) mostly takes an id the run has seen.
        const field = (key: string, s: any) => {
          const pool = pools.get(key) ?? [];
          return pool.length > 0 ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: arbitrary(s, depth + 1) }) : arbitrary(s, depth + 1);
        };
        const shape = Object.fromEntries(Object.entries<any>(schema.properties ?? {}).filter(([, s]) => !deref(s).readOnly).map(([k, s]) => [k, field(k, s)]));
        return fc.record(shape, { requiredKeys: [...required].filter((k) => k in shape) });
      }
      default:
        break;
    }
    const min = schema.minLength ?? 0;
    const max = Math.min(schema.maxLength ?? 40, min + 40);
    switch (schema.format) {
      case 'uuid':
        return fc.uuid();
      case 'date':
        return fc.integer({ min: 0, max: 700 }).map((d) => new Date(Date.UTC(2027, 0, 1) + d * 86_400_000).toISOString().slice(0, 10));
      case 'date-time':
        return fc.integer({ min: 0, max: 700 }).map((d) => new Date(Date.UTC(2027, 0, 1) + d * 86_400_000).toISOString());
      case 'email':
        return fc.stringMatching(/^[a-z]{3,10}$/).map((local) => `${local}@example.com`);
      case 'uri':
        return fc.constant(schema.example ?? 'https://example.com/a.jpg');
      default:
        if (schema.example !== undefined && typeof schema.example === 'string') return fc.oneof(fc.constant(schema.example), fc.string({ minLength: min, maxLength: max, unit: 'grapheme-ascii' }));
        return fc.string({ minLength: min, maxLength: max, unit: 'grapheme-ascii' });
    }
  }

  interface Request {
    path: Record<string, string>;
    query: Record<string, unknown>;
    body: unknown;
  }
  function requestArbitrary(operation: Operation): fc.Arbitrary<Request> {
    const pathShape: Record<string, fc.Arbitrary<string>> = {};
    const queryShape: Record<string, fc.Arbitrary<unknown>> = {};
    const requiredQuery: string[] = [];
    for (const param of operation.params) {
      if (param.in === 'path') {
        const pool = pools.get(param.name) ?? [];
        pathShape[param.name] = pool.length > 0 ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.uuid() }) : fc.uuid();
      } else if (param.in === 'query' && param.name !== 'cursor') {
        queryShape[param.name] = arbitrary(param.schema);
        if (param.required) requiredQuery.push(param.name);
      }
    }
    const bodySchema = deref(operation.op.requestBody)?.content?.['application/json']?.schema;
    const examples = Object.values<any>(deref(operation.op.requestBody)?.content?.['application/json']?.examples ?? {}).map((e) => deref(e).value);
    const body = bodySchema
      ? examples.length > 0
        ? fc.oneof(fc.constantFrom(...examples), arbitrary(bodySchema))
        : arbitrary(bodySchema)
      : fc.constant(undefined);
    return fc.record({ path: fc.record(pathShape), query: fc.record(queryShape, { requiredKeys: requiredQuery }), body });
  }

  async function perform(operation: Operation, request: Request, headers: Record<string, string> = {}, invalid = false) {
    const path = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(request.path[name] ?? ''));
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query)) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) query.append(name, String(item));
    }
    const extra = { ...headers };
    for (const param of operation.params) {
      if (param.in === 'header' && param.name.toLowerCase() === 'idempotency-key') extra['Idempotency-Key'] = crypto.randomUUID();
    }
    return send(operation, path, query, extra, request.body, invalid);
  }

  /** One way to make a valid request invalid, or undefined when the operation takes nothing that can be broken. */
  function invalidArbitrary(operation: Operation): fc.Arbitrary<Request> | undefined {
    const breakable = operation.params.filter((p) => {
      const schema = deref(p.schema) ?? {};
      return (p.in === 'path' || p.in === 'query') && (schema.format === 'uuid' || schema.format === 'date' || schema.type === 'integer');
    });
    const hasBody = deref(operation.op.requestBody)?.content?.['application/json'] !== undefined;
    const choices: fc.Arbitrary<Request>[] = [];
    if (hasBody) choices.push(fc.constantFrom<unknown>([], 'text', 42, null).map((body) => ({ path: {}, query: {}, body })));
    for (const param of breakable) {
      const schema = deref(param.schema);
      const bad = schema.type === 'integer' ? fc.constantFrom('ten', '1.5', '') : schema.format === 'uuid' ? fc.constantFrom('not-a-uuid', '123') : fc.constantFrom('2027-02-30', '31/12/2027', 'tomorrow');
      choices.push(bad.map((value) => ({ path: { [param.name]: value }, query: param.in === 'query' ? { [param.name]: value } : {}, body: undefined })));
    }
    if (choices.length === 0) return undefined;
    // Everything else stays valid, so the one broken part is what the answer is about.
    return fc.tuple(requestArbitrary(operation), fc.oneof(...choices)).map(([valid, broken]) => ({
      path: { ...valid.path, ...broken.path },
      query: { ...valid.query, ...broken.query },
      body: hasBody && broken.body !== undefined ? broken.body : valid.body,
    }));
  }

  const allById = new Map(allOps.map((o) => [o.id, o]));

  // Its own user: a host (hosts can create properties, which the rest of the run then reads).
  if (!token && !options.readOnly) {
    const register = allById.get('registerUser');
    const login = allById.get('login');
    if (register && login) {
      const email = `conformance-${seed}-${Date.now()}@example.com`;
      const password = `conformance-${crypto.randomUUID()}`;
      await perform(register, { path: {}, query: {}, body: { email, password, name: 'Conformance Run', role: 'host' } });
      const session = await perform(login, { path: {}, query: {}, body: { email, password } });
      token = (session.body as any)?.access_token;
      if (!token) log('could not sign up a user: only anonymous requests will be made (or pass --token)');
    }
  }

  // Creations first (their spec examples, then generated bodies), so that later reads and writes have ids.
  const creates = operations.filter((o) => o.method === 'post' && !/\{/.test(o.path));
  const rest = operations.filter((o) => !creates.includes(o));
  const order = [...creates, ...rest.filter((o) => o.method === 'get'), ...rest.filter((o) => o.method !== 'get')];
  for (const get of operations.filter((o) => o.method === 'get' && !/\{/.test(o.path))) {
    await perform(get, { path: {}, query: {}, body: undefined });
  }
  let index = 0;
  for (const operation of order) {
    report.operations += 1;
    const samples = fc.sample(requestArbitrary(operation), { seed: seed + index, numRuns: runs });
    index += 1;
    for (const request of samples) await perform(operation, request);
    const invalid = options.invalid ? invalidArbitrary(operation) : undefined;
    if (invalid) {
      for (const request of fc.sample(invalid, { seed: seed + 1000 + index, numRuns: Math.max(1, Math.ceil(runs / 2)) })) await perform(operation, request, {}, true);
    }
  }
  return report;
}

/**
 * A response's body as text; of an event stream (the live events, which never end by
 * themselves) only its first frame, up to the blank line that ends it, and then it is closed.
 */
async function bodyText(response: Response): Promise<string> {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream') || !response.body) return response.text();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text.slice(0, text.indexOf('\n\n') + 2);
}
