/**
 * The process's log: pino, one JSON line per event on stdout (one stream, for the
 * container runtime or a shipper to collect), each with `time`, `level` and, inside
 * a request, `request_id`. `Deps.log` keeps its call shape
 * `log({ level, message, ...fields })` on top of it, so handlers and jobs need not
 * know pino. For a readable terminal, pipe it through `pino-pretty`.
 */
import { pino, stdTimeFunctions, type Level, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger } from 'pino';

/** One log line as `Deps.log` takes it: `level` (default info), `message`, and any fields. */
export type LogLine = Record<string, unknown>;
export type LogFn = (line: LogLine) => void;

const LEVELS = new Set<string>(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);

/**
 * The root logger. Lines go to stdout, or to `sink` (one parsed line each) when the
 * caller collects them itself: the tests do, to print only the errors.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, sink?: LogFn): Logger {
  const options = {
    level: config.logLevel,
    // `message` rather than pino's `msg`: the name every existing log call uses.
    messageKey: 'message',
    timestamp: stdTimeFunctions.isoTime,
    // Level names, not pino's numbers: a reader (or a grep) sees "error", not 50.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (!sink) return pino(options);
  return pino(options, { write: (json: string) => sink(JSON.parse(json) as LogLine) });
}

/** `Deps.log` on a pino logger: `log({ level: 'warn', message: 'x', id })` writes one line at that level. */
export function logFunction(logger: Logger): LogFn {
  return ({ level, message, ...fields }) => {
    const method: Level = typeof level === 'string' && LEVELS.has(level) ? (level as Level) : 'info';
    logger[method](fields, typeof message === 'string' ? message : undefined);
  };
}
