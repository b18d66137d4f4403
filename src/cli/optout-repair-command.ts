/**
 * `uid2-engine optout repair FILE`: the salvage a receiver asks for when it refuses a damaged
 * opt-out file (src/optout/file/repair.ts). Prints a JSON summary on stdout and one line on
 * stderr saying what it did; exit 0 when the file is now sound (repaired, or nothing to repair),
 * 2 when it could not be repaired (missing, not an opt-out file, open for writing elsewhere).
 */
import { Uid2Error } from '../errors.js';
import { repairOptOutLog } from '../optout/file/repair.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

export async function runOptOutRepair(files: string[]): Promise<void> {
  if (files.length !== 1) throw new CliError(EXIT_USAGE, files.length === 0 ? 'optout repair needs the FILE to repair' : `optout repair takes one FILE, got ${files.length}`);
  const file = files[0]!;
  let report;
  try {
    report = await repairOptOutLog(file);
  } catch (err) {
    const reason = err instanceof Uid2Error ? err.message : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    throw new CliError(EXIT_USAGE, `cannot repair ${file}: ${reason}`);
  }
  process.stdout.write(`${JSON.stringify({ file, ...report })}\n`);
  const n = (v: number): string => v.toLocaleString('en-US');
  if (!report.repaired) {
    process.stderr.write(`uid2-engine: ${file} has no damage: ${n(report.records)} intact records; nothing changed\n`);
    return;
  }
  const first = report.damaged[0];
  const where = first === undefined ? '' : `, the first at byte ${n(first.offset)}`;
  const header = report.headerReplaced ? '; its header was damaged and is new' : '';
  process.stderr.write(
    `uid2-engine: repaired ${file}: kept ${n(report.records)} intact records; moved ${n(report.damagedBytes)} damaged bytes ` +
      `(${n(report.damagedRanges)} range(s)${where}) to ${report.aside}${header}\n`,
  );
}
