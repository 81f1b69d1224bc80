/**
 * Drives the batcher the way the agent core does: parse each source file
 * (continuing the previous file's block), plan every unit, seal when told or
 * when full. Persists the state as JSON between files, as the core would.
 * A receipt still open at the end of a file (`complete: false`) is held back
 * and prepended to the next file, so a receipt cut between two source files
 * is still never split across packages (the last file flushes it).
 */
import { emptyPackage, planAppend, type OpenPackageState } from '../../src/formats/batcher.js';
import { parseReport, type BlockHeader } from '../../src/formats/report.js';

const CRLF = Buffer.from('\r\n');

export function batchFiles(files: Buffer[], maxTransactions: number): Buffer[] {
  const sealed: Buffer[] = [];
  let open: Buffer[] = [];
  let state: OpenPackageState = emptyPackage;
  let header: BlockHeader | undefined;
  const seal = () => {
    if (open.length > 0) sealed.push(Buffer.concat(open));
    open = [];
    state = emptyPackage;
  };
  let carry: Buffer | undefined;
  files.forEach((file, i) => {
    const data = carry ? Buffer.concat([carry, file]) : file;
    carry = undefined;
    const parsed = parseReport(data, `POS1.rep#${i}`, header ? { header } : {});
    header = parsed.lastHeader;
    let units = parsed.units;
    const last = units[units.length - 1];
    if (i < files.length - 1 && last && !last.complete) {
      carry = Buffer.concat(last.lines.flatMap((l) => [l, CRLF]));
      units = units.slice(0, -1);
    }
    for (const unit of units) {
      const plan = planAppend(state, unit, maxTransactions);
      if (plan.sealFirst) seal();
      open.push(plan.chunk);
      state = JSON.parse(JSON.stringify(plan.state)) as OpenPackageState;
      if (state.transactions >= maxTransactions) seal();
    }
  });
  seal();
  return sealed;
}

/** Lines of a report file without EOL (for comparing bodies). */
export function splitLines(b: Buffer): string[] {
  const s = b.toString('latin1').replace(/^\xef\xbb\xbf/, '');
  const lines = s.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
