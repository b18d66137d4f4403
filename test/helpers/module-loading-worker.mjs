/**
 * An engine worker entry that reports how its thread loads ES modules: it stores 1 in the shared
 * word its workerData names when require(esm) is off in the thread (`process.features.require_module`
 * false: Piscina then loads the entry through import()), 2 when it is on, and runs the shipped lane
 * loop. For the test of engine/pool/dispatcher.ts's worker flags.
 */
import { workerData } from 'node:worker_threads';
import laneLoop from '../../dist/engine/worker/entry.js';

Atomics.store(new Int32Array(workerData.seen), 0, process.features.require_module ? 2 : 1);

export default laneLoop;
