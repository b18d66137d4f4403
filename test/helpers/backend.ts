/** Runs `make` with UID2_ENGINE_BACKEND set to `backend` (read when an engine or client is created), then restores it. */
export async function withBackend<T>(backend: string, make: () => Promise<T>): Promise<T> {
  const saved = process.env['UID2_ENGINE_BACKEND'];
  process.env['UID2_ENGINE_BACKEND'] = backend;
  try {
    return await make();
  } finally {
    if (saved === undefined) delete process.env['UID2_ENGINE_BACKEND'];
    else process.env['UID2_ENGINE_BACKEND'] = saved;
  }
}
