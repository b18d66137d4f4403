/**
 * A free TCP port on loopback, for the child processes the fleet and opt-out benchmarks and their
 * tests start (a receiver, a redis-server). Lives in bench/ so tests can import it too (as they
 * import bench/seeded-random.ts); bench/ cannot import from test/.
 */
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
