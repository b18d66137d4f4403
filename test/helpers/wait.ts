/** Polls `probe` until `done` holds (no timing assertion: a bounded wait for a condition). */
export async function until<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, what: string, attempts = 400, everyMs = 25): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}
