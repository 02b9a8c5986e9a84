/**
 * Load for the bench: autocannon runs, and a scenario measured beside its baseline
 * in alternating rounds (A B A B …), so that a change in the machine's load during
 * the run weighs on both alike.
 */
import autocannon from 'autocannon';

export interface Figures {
  /** Requests per second over all rounds. */
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** Connection errors, timeouts and answers other than 2xx. */
  errors: number;
}

export type Load = Omit<autocannon.Options, 'url' | 'duration'> & { url: string };

/** One run; with `amount` (a cap on requests, which autocannon then runs to the end), it is still stopped after `seconds`. */
export async function measure(load: Load, seconds: number): Promise<autocannon.Result> {
  const instance = autocannon({ connections: 16, ...load, duration: seconds } as autocannon.Options) as unknown as PromiseLike<autocannon.Result> & {
    stop(): void;
  };
  const timer = load.amount ? setTimeout(() => instance.stop(), seconds * 1000) : undefined;
  try {
    return await instance;
  } finally {
    clearTimeout(timer);
  }
}

/** Throughput over all rounds; percentiles as the median round's. */
export function figures(results: autocannon.Result[]): Figures {
  const requests = results.reduce((sum, r) => sum + r.requests.total, 0);
  const seconds = results.reduce((sum, r) => sum + r.duration, 0);
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    rps: seconds > 0 ? requests / seconds : 0,
    p50: median(results.map((r) => r.latency.p50)),
    p99: median(results.map((r) => r.latency.p99)),
    requests,
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
  };
}

/** A warm-up of each (not counted), then `rounds` alternating rounds of `seconds` each. */
export async function sideBySide(a: Load, b: Load, options: { rounds: number; seconds: number; warmup: number }): Promise<[Figures, Figures]> {
  await measure(a, options.warmup);
  await measure(b, options.warmup);
  const ra: autocannon.Result[] = [];
  const rb: autocannon.Result[] = [];
  for (let round = 0; round < options.rounds; round++) {
    ra.push(await measure(a, options.seconds));
    rb.push(await measure(b, options.seconds));
  }
  return [figures(ra), figures(rb)];
}

export async function alone(a: Load, options: { rounds: number; seconds: number; warmup: number }): Promise<Figures> {
  await measure(a, options.warmup);
  const results: autocannon.Result[] = [];
  for (let round = 0; round < options.rounds; round++) results.push(await measure(a, options.seconds));
  return figures(results);
}
