/**
 * `uid2-engine operator`: runs a local UID2 operator until SIGINT or SIGTERM. It prints its own
 * generated credentials on purpose: they exist only for this local test server, and clients
 * need them to connect.
 */
import { startLocalOperator } from '../operator/local-operator.js';
import { ENV_API_KEY, ENV_BASE_URL, ENV_SECRET_KEY } from '../service/options.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { parsePort } from './options.js';

export interface OperatorCommandValues {
  port?: string;
  scope?: string;
}

function parseScope(value: string | undefined): 'UID2' | 'EUID' {
  const scope = (value ?? 'UID2').toUpperCase();
  if (scope !== 'UID2' && scope !== 'EUID') throw new CliError(EXIT_USAGE, `--scope must be UID2 or EUID, got "${value}"`);
  return scope;
}

export async function runOperator(values: OperatorCommandValues): Promise<void> {
  const port = parsePort(values.port);
  const identityScope = parseScope(values.scope);
  let operator;
  try {
    operator = await startLocalOperator({ port, identityScope });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new CliError(1, `cannot listen on 127.0.0.1:${port}: ${code}`);
  }
  // Shell assignments, so the lines can be pasted or sourced to configure a client.
  process.stdout.write(
    `${ENV_BASE_URL}=${operator.url}\n${ENV_API_KEY}=${operator.apiKey}\n${ENV_SECRET_KEY}=${operator.secretKey}\n`,
  );
  process.stderr.write(`uid2-engine: local ${identityScope} operator listening on ${operator.url} (Ctrl+C to stop)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await operator.close();
}
