/**
 * `uid2-engine operator`: runs a local UID2 operator until SIGINT or SIGTERM. It prints its own
 * generated credentials on purpose: they exist only for this local test server, and clients
 * need them to connect.
 */
import { InvalidArgumentError } from '../errors.js';
import { startLocalOperator } from '../operator/local-operator.js';
import type { OptOutWebhookOptions } from '../operator/optout-delivery.js';
import { ADMIN_OPTOUT_PATH } from '../operator/optout-routes.js';
import { ENV_API_KEY, ENV_BASE_URL, ENV_SECRET_KEY } from '../service/credentials.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { parsePort } from './options.js';

export interface OperatorCommandValues {
  port?: string;
  scope?: string;
  throttle?: string;
  'optout-webhook'?: string;
  'optout-method'?: string;
  'optout-header'?: string[];
  'optout-identity-param'?: string;
  'optout-time-param'?: string;
}

/** `--optout-*` flags into the operator's webhook options (validated by the operator). */
function webhookOptions(values: OperatorCommandValues): OptOutWebhookOptions | null {
  const url = values['optout-webhook'];
  const others = ['optout-method', 'optout-header', 'optout-identity-param', 'optout-time-param'] as const;
  if (url === undefined) {
    const stray = others.find((k) => values[k] !== undefined);
    if (stray) throw new CliError(EXIT_USAGE, `--${stray} needs --optout-webhook URL`);
    return null;
  }
  const headers: Record<string, string> = {};
  for (const header of values['optout-header'] ?? []) {
    const at = header.indexOf(':');
    if (at <= 0) throw new CliError(EXIT_USAGE, `--optout-header must be "Name: value", got "${header.slice(0, 40)}"`);
    headers[header.slice(0, at).trim()] = header.slice(at + 1).trim();
  }
  const method = values['optout-method']?.toUpperCase();
  return {
    url,
    ...(method !== undefined && { method: method as 'GET' | 'POST' }),
    ...(values['optout-identity-param'] !== undefined && { identityParam: values['optout-identity-param'] }),
    ...(values['optout-time-param'] !== undefined && { timeParam: values['optout-time-param'] }),
    headers,
  };
}

function parseScope(value: string | undefined): 'UID2' | 'EUID' {
  const scope = (value ?? 'UID2').toUpperCase();
  if (scope !== 'UID2' && scope !== 'EUID') throw new CliError(EXIT_USAGE, `--scope must be UID2 or EUID, got "${value}"`);
  return scope;
}

/** `--throttle FRACTION`: 0 to 1 (e.g. 0.05); absent means 0. */
function parseThrottle(value: string | undefined): number {
  if (value === undefined) return 0;
  const fraction = /^\s*(0|1|0?\.\d+|1\.0*)\s*$/.test(value) ? Number(value) : NaN;
  if (!(fraction >= 0 && fraction <= 1)) throw new CliError(EXIT_USAGE, `--throttle must be a fraction from 0 to 1 (e.g. 0.05), got "${value.slice(0, 20)}"`);
  return fraction;
}

export async function runOperator(values: OperatorCommandValues): Promise<void> {
  const port = parsePort(values.port);
  const identityScope = parseScope(values.scope);
  const throttleFraction = parseThrottle(values.throttle);
  const optOutWebhook = webhookOptions(values);
  let operator;
  try {
    operator = await startLocalOperator({ port, identityScope, optOutWebhook, throttleFraction });
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new CliError(EXIT_USAGE, err.message.replace(/options\.optOutWebhook\.(\w+)/, (_, k: string) => `--optout-${k === 'url' ? 'webhook' : k.replace(/Param$/, '-param').toLowerCase()}`));
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CliError(1, `cannot listen on 127.0.0.1:${port}: ${code}`);
  }
  // Shell assignments, so the lines can be pasted or sourced to configure a client.
  process.stdout.write(
    `${ENV_BASE_URL}=${operator.url}\n${ENV_API_KEY}=${operator.apiKey}\n${ENV_SECRET_KEY}=${operator.secretKey}\n`,
  );
  process.stderr.write(`uid2-engine: local ${identityScope} operator listening on ${operator.url} (Ctrl+C to stop)\n`);
  if (throttleFraction > 0) process.stderr.write(`uid2-engine: answering HTTP 429 to ${Math.round(throttleFraction * 10_000) / 100}% of service requests\n`);
  if (optOutWebhook) {
    process.stderr.write(`uid2-engine: opt-outs (POST ${operator.url}${ADMIN_OPTOUT_PATH}) are delivered to the webhook\n`);
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await operator.close();
}
