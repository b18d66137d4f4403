/**
 * `uid2-engine operator`: runs a local UID2 or EUID operator, or with `--scope both` one of each
 * (two ports, one process: what a dual-scope `decrypt` or engine needs for tests and demos), until
 * SIGINT or SIGTERM. It prints its own generated credentials on purpose: they exist only for this
 * local test server, and clients need them to connect.
 */
import { InvalidArgumentError } from '../errors.js';
import { startLocalOperator, type LocalOperator } from '../operator/local-operator.js';
import type { LocalOperatorOptions } from '../operator/options.js';
import type { OptOutWebhookOptions } from '../operator/optout-delivery.js';
import { ADMIN_OPTOUT_PATH } from '../operator/optout-routes.js';
import { CREDENTIAL_VARIABLES } from '../service/credentials.js';
import type { IdentityScope } from '../types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { parseIntegerFlag, parsePort } from './options.js';

export interface OperatorCommandValues {
  port?: string;
  'euid-port'?: string;
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

/** `--scope UID2|EUID|both`, default UID2; the scopes to run, UID2's first. */
function parseScopes(value: string | undefined): IdentityScope[] {
  const scope = (value ?? 'UID2').toUpperCase();
  if (scope === 'BOTH') return ['UID2', 'EUID'];
  if (scope !== 'UID2' && scope !== 'EUID') throw new CliError(EXIT_USAGE, `--scope must be UID2, EUID or both, got "${value}"`);
  return [scope];
}


/** `--throttle FRACTION`: 0 to 1 (e.g. 0.05); absent means 0. */
function parseThrottle(value: string | undefined): number {
  if (value === undefined) return 0;
  const fraction = /^\s*(0|1|0?\.\d+|1\.0*)\s*$/.test(value) ? Number(value) : NaN;
  if (!(fraction >= 0 && fraction <= 1)) throw new CliError(EXIT_USAGE, `--throttle must be a fraction from 0 to 1 (e.g. 0.05), got "${value.slice(0, 20)}"`);
  return fraction;
}

/**
 * Starts one operator per scope, in order; if one cannot start, those already listening are
 * closed before the error is thrown, so a failed start leaves no server behind.
 */
async function startOperators(ports: readonly number[], scopes: readonly IdentityScope[], shared: LocalOperatorOptions): Promise<LocalOperator[]> {
  const operators: LocalOperator[] = [];
  for (const [i, identityScope] of scopes.entries()) {
    const port = ports[i]!;
    try {
      operators.push(await startLocalOperator({ ...shared, port, identityScope }));
    } catch (err) {
      await Promise.all(operators.map((op) => op.close()));
      if (err instanceof InvalidArgumentError) throw new CliError(EXIT_USAGE, err.message.replace(/options\.optOutWebhook\.(\w+)/, (_, k: string) => `--optout-${k === 'url' ? 'webhook' : k.replace(/Param$/, '-param').toLowerCase()}`));
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new CliError(1, `cannot listen on 127.0.0.1:${port}: ${code}`);
    }
  }
  return operators;
}

export async function runOperator(values: OperatorCommandValues): Promise<void> {
  const scopes = parseScopes(values.scope);
  if (values['euid-port'] !== undefined && scopes.length === 1) throw new CliError(EXIT_USAGE, '--euid-port needs --scope both (--port sets the port of a single operator)');
  const ports = [parsePort(values.port), parseIntegerFlag(values['euid-port'], '--euid-port', 0, 0, 65_535)];
  const throttleFraction = parseThrottle(values.throttle);
  const optOutWebhook = webhookOptions(values);
  const operators = await startOperators(ports, scopes, { optOutWebhook, throttleFraction });
  // Shell assignments, so the lines can be pasted or sourced to configure a client. With
  // --scope both, each operator's under its scope's names, ready for a dual-scope `decrypt`; a
  // single operator's as UID2_* whatever its scope, the names the single-scope commands read.
  for (const operator of operators) {
    const names = CREDENTIAL_VARIABLES[operators.length === 1 ? 'UID2' : operator.identityScope];
    process.stdout.write(`${names.baseUrl}=${operator.url}\n${names.apiKey}=${operator.apiKey}\n${names.secretKey}=${operator.secretKey}\n`);
  }
  for (const operator of operators) {
    process.stderr.write(`uid2-engine: local ${operator.identityScope} operator listening on ${operator.url} (Ctrl+C to stop)\n`);
  }
  if (throttleFraction > 0) process.stderr.write(`uid2-engine: answering HTTP 429 to ${Math.round(throttleFraction * 10_000) / 100}% of service requests\n`);
  if (optOutWebhook) {
    const routes = operators.map((operator) => `POST ${operator.url}${ADMIN_OPTOUT_PATH}`).join(', ');
    process.stderr.write(`uid2-engine: opt-outs (${routes}) are delivered to the webhook\n`);
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.all(operators.map((operator) => operator.close()));
}
