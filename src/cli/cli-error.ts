/** A failure the CLI reports as one line on stderr with a specific exit code (no stack trace). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or bad key file, 3 the service failed or answered something unusable. */
export const EXIT_USAGE = 2;
export const EXIT_REFRESH_FAILED = 3;
