/**
 * Opt-out times: the webhook sends Unix seconds, the status endpoint Unix ms, the log keeps ms
 * and the in-memory set whole seconds (u32, until 2106). One place converts and bounds them.
 */
import { MAX_OPTOUT_SECONDS } from './set.js';

/** Latest opt-out time accepted, Unix ms. */
export const MAX_OPTOUT_MS = MAX_OPTOUT_SECONDS * 1000;

/** True for an opt-out time the store can hold: an integer of Unix ms from 1 s up to 2106. */
export function isOptOutMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 1000 && ms <= MAX_OPTOUT_MS;
}

/** The in-memory set's whole seconds for a valid opt-out time. */
export function toOptOutSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
