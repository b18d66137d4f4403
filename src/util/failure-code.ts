/**
 * The one short word an operator needs about a failure, for logs, stats and /healthz: the errno
 * of what caused it when there is one (`ENOSPC` says more than `UID2_ERR_OPTOUT_WRITE`), else its
 * own code, else its message. Never a path or data: errno codes and `UID2_ERR_*` codes are fixed
 * words, and messages are used only for errors that have no code.
 */
export function failureCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof cause === 'string') return cause;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string') return code;
  return (err as Error)?.message ?? String(err);
}
