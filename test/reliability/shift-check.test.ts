/**
 * The harness's EquipmentService checks find what they are there to find: a
 * shift 1C does not hold, one it holds twice, one with other sums, a re-post
 * that differs; and a reference file with a part only half in it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReceivedShift } from '../../scripts/es-emulator/sale-reports.js';
import type { PostedDoc } from '../../scripts/es-emulator/server.js';
import { ShiftWriter } from '../helpers/shift-writer.js';
import { esReferenceParts, PART_GOODS } from './es-backend.js';
import { compareShifts } from './shift-check.js';

/** Three closed shifts of cash movements only, and what 1C would hold of each. */
function shifts(): { expected: ReturnType<ShiftWriter['expected']>; held: ReceivedShift[] } {
  const w = new ShiftWriter();
  for (let i = 0; i < 3; i++) {
    w.cashIn();
    w.z();
  }
  const expected = w.expected();
  const held = expected.map((s, i) => ({
    device: 'KASSA-01',
    posts: 1,
    attrs: { ShiftNumber: s.number!, UUID: `00000000-0000-4000-8000-00000000000${i}` },
    checks: [],
    cash: [{ Type: 'Income', Sum: s.cash.in }],
  }));
  return { expected, held };
}

const post = (uuid: string, body: string): PostedDoc => ({ device: 'KASSA-01', docType: 'SaleReports', ok: true, document: `<SaleReports><SaleReport UUID="${uuid}" ShiftNumber="1">${body}</SaleReport></SaleReports>` });

describe('the EquipmentService checks of the reliability harness', () => {
  it('every closed shift once with its sums: nothing found; a repeat post byte for byte is no problem', () => {
    const { expected, held } = shifts();
    const f = compareShifts(expected, held, [post('a', '<Checks/>'), post('a', '<Checks/>')]);
    assert.deepEqual({ ...f, samples: f.samples.length }, { closed: 3, inOneC: 3, posts: 2, lost: 0, duplicated: 0, outOfOrder: 0, wrong: 0, repostsDiffering: 0, samples: 0 });
  });

  it('finds a shift lost, one held twice, one out of order, one with other sums, a re-post that differs', () => {
    const { expected, held } = shifts();
    assert.equal(compareShifts(expected, held.slice(1), []).lost, 1);
    assert.equal(compareShifts(expected, [...held, { ...held[0]!, attrs: { ...held[0]!.attrs, UUID: 'another' } }], []).duplicated, 1);
    assert.equal(compareShifts(expected, [held[1]!, held[0]!, held[2]!], []).outOfOrder, 1);
    const other = { ...held[2]!, cash: [{ Type: 'Income', Sum: '0.01' }] };
    const wrong = compareShifts(expected, [held[0]!, held[1]!, other], []);
    assert.equal(wrong.wrong, 1);
    assert.match(wrong.samples.join('\n'), /shift 3 in 1C/);
    assert.equal(compareShifts(expected, held, [post('a', '<Checks/>'), post('a', '<Checks><Check/></Checks>')]).repostsDiffering, 1);
  });

  it('reads reference parts out of a reference file, and refuses a part that is there only in part', () => {
    const line = (n: number, j: number) => `${70_000_000 + n * 100 + j};29000;Часть ${n} товар ${j};;${n}.00;;;;;;;;;;;1`;
    const part = (n: number) => Array.from({ length: PART_GOODS }, (_, j) => line(n, j));
    assert.deepEqual(esReferenceParts(['$$$ADD', '1000;4600;Товар;;10.00;;;;;;;;;;;1', ...part(4), `#${70_000_400};2912`, ...part(5)]), { parts: [4, 5], clear: false });
    assert.deepEqual(esReferenceParts(['$$$CLR', ...part(1)]), { parts: [1], clear: true });
    assert.equal(esReferenceParts([...part(1).slice(0, -1)]), undefined, 'the last good of the part missing');
    assert.equal(esReferenceParts([...part(1).slice(1)]), undefined, 'the first good of the part missing');
  });
});
