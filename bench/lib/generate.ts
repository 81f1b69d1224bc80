/**
 * Synthetic Kassir data for the benches: SPR parts of goods lines (with
 * barcodes and Cyrillic names) and report files of whole receipts. Written in
 * large blocks so generating hundreds of MB takes seconds.
 */
import { open } from 'node:fs/promises';
import iconv from 'iconv-lite';
import { MB } from './measure.js';

const NAMES = ['Молоко 3,2% 1л', 'Хлеб Бородинский', 'Сыр Российский 45%', 'Масло сливочное 82,5%', 'Кефир 1%', 'Чай чёрный 100 пак.', 'Кофе молотый 250 г'];

function goodsLines(from: number, count: number): string {
  let s = '';
  for (let i = from; i < from + count; i++) {
    const name = NAMES[i % NAMES.length]!;
    s += `${i};46${String(i).padStart(11, '0')};${name} арт.${i};${name.slice(0, 12)};${(i % 5000) / 10 + 10}.00;${i % 97};;0;;;;;;1;;${1 + (i % 40)};1\r\n`;
    if (i % 3 === 0) s += `#${i};46${String(i + 7).padStart(11, '0')}\r\n`;
  }
  return s;
}

/** Writes `count` parts of about `partBytes` each (Windows-1251, CRLF); returns their paths in order. */
export async function writeSprParts(dir: string, count: number, partBytes: number, opts: { lastCommands?: string } = {}): Promise<string[]> {
  const paths: string[] = [];
  let code = 1;
  for (let k = 1; k <= count; k++) {
    const path = `${dir}/POS1.spr.$${k}`;
    const fh = await open(path, 'w');
    const cmd = k === count && opts.lastCommands ? opts.lastCommands : '$$$RPL';
    let written = (await fh.write(Buffer.from(`##@@&&\r\n#\r\n${cmd}\r\n`))).bytesWritten;
    while (written < partBytes) {
      const block = iconv.encode(goodsLines(code, 4000), 'win1251');
      code += 4000;
      written += (await fh.write(block)).bytesWritten;
    }
    if (k === count && opts.lastCommands) await fh.write(Buffer.from('&1;Кассир;1;1111\r\n'));
    await fh.close();
    paths.push(path);
  }
  return paths;
}

/**
 * Writes a report file of about `bytes` (receipts of 1-8 sales + payment + close, some cash in/out).
 * `real`: the format Kassir 5 really writes (wiki.ilexx.ru): `DD.MM.YY`, a trailing `;`, and about 5%
 * of lines in tag blocks: a bank slip (125 kind 2, `<json_data>`) after some card payments and the
 * periodic 125 error statistics between receipts.
 */
export async function writeReport(path: string, bytes: number, opts: { real?: boolean } = {}): Promise<void> {
  const txt = opts.real ? realReceipt : classicReceipt;
  await writeReceipts(path, opts.real ? '#\r\n1\r\nPOS13\r\n' : '#\r\n1\r\nPOS1\r\n', bytes, txt);
}

/** Writes `header`, then receipts (`receipt(rcpt, next)`, next() = the next transaction number) in 4 MB blocks up to `bytes`. */
async function writeReceipts(path: string, header: string, bytes: number, receipt: (rcpt: number, next: () => number) => string): Promise<void> {
  const fh = await open(path, 'w');
  let written = (await fh.write(Buffer.from(header))).bytesWritten;
  let n = 0;
  const next = () => ++n;
  let rcpt = 0;
  while (written < bytes) {
    let s = '';
    while (s.length < 4 * MB) s += receipt(++rcpt, next);
    written += (await fh.write(Buffer.from(s, 'latin1'))).bytesWritten;
  }
  await fh.close();
}

function classicReceipt(rcpt: number, next: () => number): string {
  let s = '';
  const sales = 1 + (rcpt % 8);
  for (let i = 0; i < sales; i++) s += `${next()};15.03.2024;12:${String(rcpt % 60).padStart(2, '0')}:00;11;1;${rcpt};3;${1000 + i};1;89.90;1.000;89.90;0;;;\r\n`;
  s += `${next()};15.03.2024;12:00:00;40;1;${rcpt};3;;;;;${sales * 89.9};1;;;\r\n`;
  s += `${next()};15.03.2024;12:00:00;55;1;${rcpt};3;;;;;${sales * 89.9};;;;\r\n`;
  if (rcpt % 50 === 0) s += `${next()};15.03.2024;12:00:00;50;1;${rcpt};3;;;;;1000;;;;\r\n`;
  return s;
}

function realReceipt(rcpt: number, next: () => number): string {
  let s = '';
  const sales = 1 + (rcpt % 8);
  const t = `12:${String(rcpt % 60).padStart(2, '0')}:00`;
  for (let i = 0; i < sales; i++) s += `${next()};15.03.24;${t};11;13;${rcpt};3;${1000 + i};1;89.90;1.000;89.90;\r\n`;
  s += `${next()};15.03.24;${t};40;13;${rcpt};3;;1;0;0;${(sales * 89.9).toFixed(2)};\r\n`;
  if (rcpt % 20 === 0) {
    // A card payment's slip: 125 kind 2 with a 5-line <json_data> block.
    const n = next();
    s += `${n};15.03.24;${t};125;13;${rcpt};3;;2;0;0;0;\r\n<json_data type="2">\r\n{\r\n    "slip": "StringForPrint #1\\r\\nStringForPrint #2",\r\n    "RRN": "${n}"\r\n}\r\n</json_data>\r\n`;
  }
  s += `${next()};15.03.24;${t};55;13;${rcpt};3;;1;0;0;${(sales * 89.9).toFixed(2)};\r\n`;
  // The periodic error statistics between receipts (125 kind 3, a 3-line block).
  if (rcpt % 60 === 0) s += `${next()};15.03.24;${t};125;13;${rcpt + 1};3;;3;0;0;0;\r\n<json_data type="3">\r\n{"errors":[{"error_code":1,"item_code":"81"}]}\r\n</json_data>\r\n`;
  if (rcpt % 50 === 0) s += `${next()};15.03.24;${t};50;13;${rcpt};3;;1;0;0;1000;\r\n`;
  return s;
}
