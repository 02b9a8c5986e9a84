/**
 * OpenTelemetry traces, only when OTEL_EXPORTER_OTLP_ENDPOINT is set: a span for each
 * incoming HTTP request, Koa's middleware and routes, every pg query and ioredis
 * command, sent in batches over OTLP/HTTP to that collector. Without the variable
 * this module imports nothing of OpenTelemetry, so tracing costs nothing.
 *
 * It must start before http, koa, pg and ioredis are loaded, because the
 * instrumentations patch those modules as they load: main.ts calls it first and
 * imports the server afterwards.
 */
import type { Config } from './config.js';

const SHUTDOWN_DEADLINE_MS = 3000;

let setRoute: ((route: string) => void) | undefined;

/**
 * Names the current request's HTTP span by its route template (`GET /properties/{id}`, and
 * `http.route`), which only the router knows. Does nothing when tracing is off.
 */
export function traceRoute(route: string): void {
  setRoute?.(route);
}

export interface Telemetry {
  /** Sends the spans still buffered; call it before the process exits. */
  shutdown(): Promise<void>;
}

export async function startTelemetry(config: Pick<Config, 'otelExporterOtlpEndpoint' | 'otelServiceName'>): Promise<Telemetry | undefined> {
  if (!config.otelExporterOtlpEndpoint) return undefined;
  // ES modules are patched through import-in-the-middle's loader hook, registered here for
  // the instrumented packages only (CommonJS requires, such as koa's of http, are patched
  // without it).
  const { register } = await import('node:module');
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: ['koa', 'pg', 'ioredis'] } });
  const [{ NodeSDK }, { OTLPTraceExporter }, { HttpInstrumentation }, { KoaInstrumentation }, { PgInstrumentation }, { IORedisInstrumentation }] =
    await Promise.all([
      import('@opentelemetry/sdk-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/instrumentation-http'),
      import('@opentelemetry/instrumentation-koa'),
      import('@opentelemetry/instrumentation-pg'),
      import('@opentelemetry/instrumentation-ioredis'),
    ]);
  const sdk = new NodeSDK({
    serviceName: config.otelServiceName,
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (adding /v1/traces) and the other standard OTEL_EXPORTER_OTLP_* variables.
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [new HttpInstrumentation(), new KoaInstrumentation(), new PgInstrumentation(), new IORedisInstrumentation()],
    // Traces only: metrics are prom-client's on /metrics and logs are pino's on stdout. Without these
    // empty lists the SDK would also start OTLP metric and log exporters from the environment's defaults.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  // The HTTP instrumentation keeps a mutable record per request in its context and, once the
  // response is sent, names the span from the route found there (as its Express and Koa router
  // integrations do).
  const [{ context }, { getRPCMetadata, RPCType }] = await Promise.all([import('@opentelemetry/api'), import('@opentelemetry/core')]);
  setRoute = (route) => {
    const metadata = getRPCMetadata(context.active());
    if (metadata?.type === RPCType.HTTP) metadata.route = route;
  };
  return {
    // A collector that is down must not hold the process up: the spans still buffered are given a few seconds.
    shutdown: () =>
      Promise.race([sdk.shutdown(), new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_DEADLINE_MS).unref())]),
  };
}
