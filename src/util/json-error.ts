/** What a JSON syntax error may say about its input: where, never what. */

/**
 * A JSON syntax error without the parser's own message: V8 quotes a snippet of the input
 * ("Unexpected token 'Q', "QUJDREVGR0"... is not valid JSON"), which for key JSON can be part of a
 * key secret. Only the position (when the parser gives one) is kept.
 */
export function jsonSyntaxSummary(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  const position = /position (\d+)/.exec(message);
  if (position) return `syntax error at position ${position[1]}`;
  if (/end of (JSON|data) input/i.test(message)) return 'unexpected end of input';
  return 'syntax error';
}
