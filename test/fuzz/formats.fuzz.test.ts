/**
 * Hostile input for the pure parsers (fast-check): reports, SPR parts (one
 * at a time and merged), ZIP archives (zip slip, bombs, truncated, mutated),
 * base64. Each input must be accepted or refused with a FormatError naming
 * the file, within a hang guard; a ZIP never writes outside its folder.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeBase64, encodeBase64 } from '../../src/formats/base64.js';
import { FormatError } from '../../src/formats/errors.js';
import { parseReport } from '../../src/formats/report.js';
import { inspectSprPart, mergeSprParts } from '../../src/formats/spr.js';
import { extractZipTo, makeZip, readZipEntries } from '../../src/formats/zip.js';
import { reportFile } from '../helpers/kassir.js';
import { RUNS, Tally, hostileBytes, returnsOrTypedError } from './hostile.js';
import { removeDir, suiteTempDir } from '../helpers/temp-dir.js';

const dir = suiteTempDir('kassir-fuzz');

const latin = (s: string) => Buffer.from(s, 'latin1');
const REPORT_SEEDS = [
  latin(reportFile([{ receipt: 1, lines: 3 }, { receipt: 2, lines: 0 }], 1).data),
  latin(reportFile([{ receipt: 7, lines: 1 }], 100).data + reportFile([{ receipt: 8, lines: 2 }], 200).data),
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), latin(reportFile([{ receipt: 3, lines: 2 }], 5).data)]),
  latin('#\r\n1\r\nPOS1\r\n1;24.11.2026;10:00:00;50;1;0;5;;1;100.00;1;100.00\r\n2;24.11.2026;10:00:00;60;1;0;5;;;;;\r\n'),
];
const SPR_SEEDS = [
  latin('##@@&&\r\n#\r\n1;;Товар;;1;\r\n#1;4600000000001;\r\n'),
  latin('##@@&&$$$RPL\r\n#\r\n$$$CLR{NO_TOV}\r\n10;;A;;1;\r\n&1;Кассир;;\r\n'),
  latin('##@@&&\r\n@\r\n$$$ADD\r\n5;;B;;2;\r\n'),
  Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('##@@&&$$$RPL\r\n#\r\n1;;Молоко;;1;\r\n', 'utf8')]),
];

async function zipSeeds(): Promise<Buffer[]> {
  const plain = await makeZip([{ name: 'v8_9969_15.txt', data: SPR_SEEDS[0]! }]);
  const two = await makeZip([
    { name: 'a/1.spr', data: SPR_SEEDS[1]! },
    { name: 'b.spr', data: SPR_SEEDS[2]! },
  ]);
  // Zip slip: the same archive with its entry renamed to climb out (same length, so the headers stay consistent).
  const slip = Buffer.from((await makeZip([{ name: 'aa/evil.spr', data: SPR_SEEDS[0]! }])).toString('latin1').split('aa/evil.spr').join('../evil.spr'), 'latin1');
  const abs = Buffer.from((await makeZip([{ name: 'xetc/passwd', data: latin('x') }])).toString('latin1').split('xetc/passwd').join('/etc/passwd'), 'latin1');
  // A bomb: 8 MiB of zeros deflate to a few KB.
  const bomb = await makeZip([{ name: 'bomb.spr', data: Buffer.alloc(8 * 1024 * 1024) }]);
  return [plain, two, slip, abs, bomb, plain.subarray(0, plain.length - 10)];
}

describe('hostile input: formats', () => {
  it(`parseReport: ${RUNS * 2} generated and mutated report files give units or a FormatError`, async () => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(hostileBytes(REPORT_SEEDS), async (b) => {
        tally.add(await returnsOrTypedError('parseReport', b, [FormatError], () => parseReport(b, 'R001.rep')));
      }),
      { numRuns: RUNS * 2 },
    );
    console.log(`# parseReport: ${tally}`);
    assert.equal(tally.total, RUNS * 2);
  });

  it(`inspectSprPart and mergeSprParts: ${RUNS} sets of 1-3 mutated parts are merged or refused with a FormatError`, async () => {
    const tally = new Tally();
    let round = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(hostileBytes(SPR_SEEDS), { minLength: 1, maxLength: 3 }), async (parts) => {
        const here = join(dir(), `spr-${++round}`);
        await fs.mkdir(join(here, 'out'), { recursive: true });
        const files = await Promise.all(
          parts.map(async (p, i) => {
            const path = join(here, `POS1.spr.$${i + 1}`);
            await fs.writeFile(path, p);
            return { path, name: `POS1.spr.$${i + 1}` };
          }),
        );
        for (const f of files) tally.add(await returnsOrTypedError('inspectSprPart', parts[0]!, [FormatError], () => inspectSprPart(f.path, f.name)));
        tally.add(
          await returnsOrTypedError('mergeSprParts', Buffer.concat(parts), [FormatError], async () => {
            const r = await mergeSprParts(files, join(here, 'out'));
            for (const o of r.outputs) assert.ok((await fs.stat(o.path)).isFile(), `merge output ${o.path} exists`);
          }),
        );
        await removeDir(here);
      }),
      { numRuns: RUNS },
    );
    console.log(`# SPR inspect/merge: ${tally}`);
  });

  it(`readZipEntries and extractZipTo: ${RUNS} mutated archives (zip slip, bomb, truncated) are read safely or refused`, async () => {
    const seeds = await zipSeeds();
    const tally = new Tally();
    let round = 0;
    await fc.assert(
      fc.asyncProperty(hostileBytes(seeds), async (zip) => {
        const limits = { maxTotalBytes: 2 * 1024 * 1024 };
        tally.add(
          await returnsOrTypedError('readZipEntries', zip, [FormatError], async () => {
            for (const e of await readZipEntries(zip, 'package 1', limits)) {
              assert.ok(!e.name.split('/').includes('..') && !e.name.startsWith('/'), `entry name ${e.name} escapes`);
            }
          }),
        );
        const box = join(dir(), `zip-${++round}`);
        const dest = join(box, 'dest');
        await fs.mkdir(dest, { recursive: true });
        tally.add(await returnsOrTypedError('extractZipTo', zip, [FormatError], () => extractZipTo(zip, 'package 1', dest, limits)));
        // Nothing was written beside the destination folder (zip slip).
        assert.deepEqual(await fs.readdir(box), ['dest']);
        const all = await fs.readdir(dest, { recursive: true });
        for (const f of all) assert.ok(!relative(dest, join(dest, f)).startsWith('..'));
        await removeDir(box);
      }),
      { numRuns: RUNS },
    );
    console.log(`# ZIP read/extract: ${tally}`);
  });

  it('the seeds themselves: zip slip, an absolute name and a bomb are refused with a FormatError naming the package', async () => {
    const [, , slip, abs, bomb] = await zipSeeds();
    for (const z of [slip!, abs!, bomb!]) {
      await assert.rejects(readZipEntries(z, 'package 9', { maxTotalBytes: 2 * 1024 * 1024 }), (e: unknown) => e instanceof FormatError && e.message.startsWith('package 9'));
    }
  });

  it(`decodeBase64: ${RUNS * 2} mutated texts decode or give a FormatError; valid text with line breaks round-trips`, async () => {
    const tally = new Tally();
    const seeds = [encodeBase64(SPR_SEEDS[0]!), encodeBase64(await makeZip([{ name: 'a.txt', data: SPR_SEEDS[1]! }])).replace(/(.{64})/g, '$1\r\n'), 'QQ==', ''].map((s) =>
      Buffer.from(s, 'latin1'),
    );
    await fc.assert(
      fc.asyncProperty(hostileBytes(seeds), async (b) => {
        const text = b.toString('latin1');
        tally.add(await returnsOrTypedError('decodeBase64', b, [FormatError], () => decodeBase64(text, 'package 3')));
      }),
      { numRuns: RUNS * 2 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 80 }), (bytes, width) => {
        const b64 = encodeBase64(Buffer.from(bytes));
        const wrapped = b64.replace(new RegExp(`(.{${width}})`, 'g'), '$1\r\n');
        assert.deepEqual(decodeBase64(wrapped, 'x'), Buffer.from(bytes));
      }),
      { numRuns: RUNS },
    );
    console.log(`# base64: ${tally}`);
  });
});
