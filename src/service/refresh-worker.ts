/**
 * The refresh worker's entry: sends a key request, opens, parses and validates the answer and
 * encodes its snapshot, so that a refresh of many keys costs the main thread only two messages
 * (see refresh-thread.ts). Messages are declared in refresh-messages.ts.
 */
import { parentPort } from 'node:worker_threads';
import { AbortedError, ResponseTimestampError, ServiceHttpError, Uid2Error } from '../errors.js';
import { snapshotOf } from '../keys/key-set.js';
import { fetchKeySet } from './key-response.js';
import type { RefreshJob, RefreshMessage, RefreshReply } from './refresh-messages.js';

const running = new Map<number, AbortController>();

async function refresh(job: RefreshJob): Promise<RefreshReply> {
  const controller = new AbortController();
  running.set(job.id, controller);
  try {
    const { keySet, responseBytes } = await fetchKeySet(job.request, [controller.signal]);
    return { id: job.id, snapshot: snapshotOf(keySet), responseBytes };
  } catch (err) {
    if (err instanceof ServiceHttpError) return { id: job.id, code: err.code, message: err.message, statusCode: err.statusCode };
    if (err instanceof ResponseTimestampError) return { id: job.id, code: err.code, message: err.message, timestampMs: err.timestampMs };
    if (err instanceof Uid2Error) return { id: job.id, code: err.code, message: err.message };
    // Not an expected failure; its message could hold anything, so only its class crosses.
    return { id: job.id, code: 'UID2_ERR_INTERNAL', message: `unexpected ${err instanceof Error ? err.name : typeof err} during a key refresh` };
  } finally {
    running.delete(job.id);
  }
}

parentPort!.on('message', (message: RefreshMessage) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort(new AbortedError('the refresh was aborted'));
    return;
  }
  if (message.crash) process.exit(1);
  void refresh(message).then((reply) => parentPort!.postMessage(reply));
});
