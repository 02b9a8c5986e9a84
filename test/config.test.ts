/**
 * The settings: their defaults, the errors for bad values, `.env` under the real
 * environment, and the README table and .env.example that are generated from the
 * one schema in server/config.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv, promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, settingsMeta } from '../server/config.js';
import { envExample, settingsTable } from '../scripts/generate-settings.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('loadConfig', () => {
  it('starts a development server on 127.0.0.1:3000 with nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: '.data/pglite',
      redisKeyPrefix: 'staybook:',
      sessionTtlSeconds: 604_800,
      logLevel: 'info',
      logRequests: true,
      validateResponses: true,
      graphqlIntrospection: true,
      paymentProvider: 'local',
      corsOrigins: [],
      metricsToken: undefined,
      otelExporterOtlpEndpoint: undefined,
      otelServiceName: 'staybook',
      stripeApiBase: undefined,
    });
  });

  it('derives the defaults that depend on other settings', () => {
    const production = loadConfig({ NODE_ENV: 'production' });
    expect([production.validateResponses, production.graphqlIntrospection, production.graphqlGraphiql, production.logRequests]).toEqual([false, false, false, true]);
    expect(loadConfig({ NODE_ENV: 'test' }).logRequests).toBe(false);
    expect(loadConfig({ STRIPE_SECRET_KEY: 'sk_test_x' }).paymentProvider).toBe('stripe');
    // An explicit value beats the derived default.
    expect(loadConfig({ NODE_ENV: 'production', VALIDATE_RESPONSES: 'yes' }).validateResponses).toBe(true);
  });

  it('reads typed values: numbers, flags in words, lists and URLs', () => {
    const config = loadConfig({
      PORT: '8080',
      SEED_DEMO_DATA: 'OFF',
      CORS_ORIGINS: ' https://a.example , https://b.example,',
      STRIPE_API_BASE: 'http://127.0.0.1:12111',
      LOG_LEVEL: 'debug',
    });
    expect(config.port).toBe(8080);
    expect(config.seedOnFirstStart).toBe(false);
    expect(config.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.stripeApiBase).toBeInstanceOf(URL);
    expect(config.stripeApiBase?.port).toBe('12111');
    expect(config.logLevel).toBe('debug');
  });

  it('counts an empty value as unset', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', VALIDATE_RESPONSES: '', HOST: '' });
    expect([config.port, config.databaseUrl, config.validateResponses, config.host]).toEqual([3000, undefined, true, '127.0.0.1']);
  });

  it('names every bad value, with what it must be and what it got', () => {
    let message = '';
    try {
      loadConfig({ PORT: '80http', SERVICE_FEE_BASIS_POINTS: '10001', LOG_REQUESTS: 'maybe', LOG_LEVEL: 'loud', NODE_ENV: 'staging', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n').sort()).toEqual([
      'LOG_LEVEL must be fatal, error, warn, info, debug, trace or silent, got "loud"',
      'LOG_REQUESTS must be true or false, got "maybe"',
      'NODE_ENV must be development, test or production, got "staging"',
      'OTEL_EXPORTER_OTLP_ENDPOINT must be a URL such as http://host:port, got "collector"',
      'PORT must be an integer from 0 to 65535, got "80http"',
      'SERVICE_FEE_BASIS_POINTS must be an integer from 0 to 10000, got "10001"',
    ]);
  });

  it('refuses fractions, negative numbers and out-of-range ports', () => {
    expect(() => loadConfig({ BOOKING_HOLD_SECONDS: '0' })).toThrow('BOOKING_HOLD_SECONDS must be an integer from 1 to 9007199254740991, got "0"');
    expect(() => loadConfig({ JOB_BACKOFF_MS: '1.5' })).toThrow(/^JOB_BACKOFF_MS must be an integer/);
    expect(() => loadConfig({ SESSION_TTL_SECONDS: '-1' })).toThrow(/^SESSION_TTL_SECONDS must be an integer/);
    expect(() => loadConfig({ PORT: '65536' })).toThrow(/^PORT must be an integer from 0 to 65535/);
  });
});

describe('.env', () => {
  const folder = mkdtempSync(path.join(tmpdir(), 'staybook-env-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  /** The config a process started in `cwd` with `env` sees, after loading its .env as main.ts does. */
  async function configIn(cwd: string, env: Record<string, string>): Promise<Record<string, unknown>> {
    const script = [
      `const { loadConfig, loadEnvFile } = await import(${JSON.stringify(path.join(root, 'server/config.ts'))});`,
      'const found = loadEnvFile();',
      'console.log(JSON.stringify({ found, ...loadConfig() }));',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', script], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return JSON.parse(stdout) as Record<string, unknown>;
  }

  it('is read from the working directory, and the real environment wins over it', async () => {
    writeFileSync(path.join(folder, '.env'), ['# a comment', 'PORT=4100', 'HOST=0.0.0.0', 'MAIL_FROM="Ops <ops@example.test>"', 'LOG_LEVEL=warn', ''].join('\n'));
    const config = await configIn(folder, { PORT: '4200' });
    expect(config).toMatchObject({ found: true, port: 4200, host: '0.0.0.0', mailFrom: 'Ops <ops@example.test>', logLevel: 'warn' });
  });

  it('is optional', async () => {
    const empty = mkdtempSync(path.join(folder, 'none-'));
    expect(await configIn(empty, { PORT: '4300' })).toMatchObject({ found: false, port: 4300, host: '127.0.0.1' });
  });

  it('with a bad value stops the process with the setting named', async () => {
    const bad = mkdtempSync(path.join(folder, 'bad-'));
    writeFileSync(path.join(bad, '.env'), 'BODY_LIMIT_BYTES=lots\n');
    await expect(configIn(bad, {})).rejects.toThrow(/BODY_LIMIT_BYTES must be an integer from 0 to \d+, got "lots"/);
  });
});

describe('generated settings documentation', () => {
  it('the README table is the one the schema generates, one row per setting', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain(settingsTable());
    for (const { env } of settingsMeta()) expect(settingsTable()).toContain(`| \`${env}\` |`);
    expect(settingsTable()).toContain('| `PORT` | `3000` | HTTP port |');
    expect(settingsTable()).toContain('| `VALIDATE_RESPONSES` | on unless production |');
  });

  it('.env.example is the one the schema generates, and every value in it is accepted', () => {
    const example = readFileSync(path.join(root, '.env.example'), 'utf8');
    expect(example).toBe(envExample());
    // Uncomment every setting: the file must still load, and a setting with a default must show that default.
    const uncommented = parseEnv(example.replace(/^# ([A-Z0-9_]+=)/gm, '$1'));
    expect(Object.keys(uncommented).sort()).toEqual(settingsMeta().map((setting) => setting.env).sort());
    const config = loadConfig(uncommented);
    const defaults = loadConfig({});
    expect(config.port).toBe(defaults.port);
    expect(config.mailFrom).toBe(defaults.mailFrom);
    expect(config.sessionTtlSeconds).toBe(defaults.sessionTtlSeconds);
  });
});
