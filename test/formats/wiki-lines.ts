/**
 * Report lines quoted from the Kassir 5 wiki (wiki.ilexx.ru), as data for
 * the parser, batcher and end-to-end tests. The four blocks below are the
 * pages' own example lines, character for character:
 * - кассир5:транзакцииподробно:125 (extra data; kinds 1, 2, 3)
 * - кассир5:транзакцииподробно:оприходованиеизлишков (a posted document, 300)
 * The wiki shows no 11/40/55/58/611/655 line; the receipt lines around the
 * quotes (`receipt`) are written in the same layout as the quoted ones (POS
 * 13, the quote's receipt number and date, `DD.MM.YY`, trailing `;`).
 */
import iconv from 'iconv-lite';

/** "Транзакция 125 пишется после позиций чека предоплаты (611), но до транзакции закрытия чека предоплаты (655)." */
export const WIKI_125_PREPAYMENT = [
  '99085;03.04.23;15:37:47;125;13;1276;1;;1;0;0;0;',
  '<json_data type="1">',
  '{"Реквизиты": {"ДатаОтгрузки": "2023-04-21T00:00:00Z"}}',
  '</json_data>',
];

/** "Транзакция 125 пишется после транзакции оплаты по банковскому терминалу (40/140)." */
export const WIKI_125_SLIP = [
  '16;08.10.24;13:36:20;125;13;2957;1;;2;0;0;0;',
  '<json_data type="2">',
  '{',
  '    "slip": "some StringForPrint #1\\r\\nsome StringForPrint #2-----------------Линия отреза-----------------some StringForBuy #3\\r\\nsome StringForBuy #4",',
  '    "RRN": "1"',
  '}',
  '</json_data>',
];

/**
 * Error statistics: written "1. закрытие/отмены/отл чек (после транзакций регистраций, но до 55/56/58)
 * 2. если состав чека пустой - перед записью любых транзакций НЕ чека 3. перед выходом из программы
 * 4. каждые 10 минут, если не наступило другое событие".
 */
export const WIKI_125_ERRORS = [
  '10973;19.11.25;19:56:02;125;13;292;1;;3;0;0;0;',
  '<json_data type="3">',
  '{"errors":[{"error_code":1,"item_code":"81","date":"20251119194536","error_text":"Подбор товара","error_text_full":"Продажа запрещена! Превышен срок годности продукта"}]}',
  '</json_data>',
];

/** "Сразу после строки с 300 транзакцией ... должна следовать информация о проведенном документе «Оприходование излишков»." */
export const WIKI_300_DOCUMENT = [
  '28088;05.04.23;19:36:36;300;13;1276;1;;1;3.00;44.000;0;',
  '<Document store="0000061" Комментарий="появились из ниоткуда" Секция="1">',
  '1;33.001',
  '2;44.000',
  '</Document>',
];

/** A receipt line in the wiki lines' layout: number;DD.MM.YY;time;type;13;receipt;cashier 1;goods;section 1;price;qty;amount; */
export function receiptLine(n: number, date: string, time: string, type: number, receipt: number, goods = '', amount = '0'): string {
  return `${n};${date};${time};${type};13;${receipt};1;${goods};1;${goods ? amount : '0'};${goods ? '1.000' : '0'};${amount};`;
}

export const WIKI_HEADER = ['#', '1', 'POS13'];

/** A file: one position (`saleType`), its payment (40), the quoted lines `middle`, the end line, at `times`. */
function paidReceipt(first: number, date: string, times: [string, string, string], saleType: number, receipt: number, amount: string, middle: string[], endType: number): string[] {
  return [
    ...WIKI_HEADER,
    receiptLine(first, date, times[0], saleType, receipt, '81', amount),
    receiptLine(first + 1, date, times[1], 40, receipt, '', amount),
    ...middle,
    receiptLine(first + 3, date, times[2], endType, receipt, '', amount),
  ];
}

/** The lines as Kassir writes them: Windows-1251, CRLF. */
export function kassirFile(lines: string[]): Buffer {
  return iconv.encode(lines.map((l) => `${l}\r\n`).join(''), 'win1251');
}

/**
 * The real-format cases (docs/FORMATS.md "Tag blocks", "Receipts and units"), each a whole file built around a wiki quote. Every
 * file is complete as written: no receipt is open at its end.
 */
export const WIKI_CASES: { name: string; lines: string[] }[] = [
  {
    // A prepayment receipt: 611 positions, the 125 kind 1 block, 655.
    name: 'prepayment receipt (611 ... 125 kind 1 ... 655)',
    lines: paidReceipt(99083, '03.04.23', ['15:37:40', '15:37:45', '15:37:48'], 611, 1276, '100.00', WIKI_125_PREPAYMENT, 655),
  },
  {
    // A card payment with its slip, then the receipt closes.
    name: 'bank slip after a card payment (40 ... 125 kind 2 ... 55)',
    lines: paidReceipt(14, '08.10.24', ['13:36:01', '13:36:19', '13:36:21'], 11, 2957, '50.00', WIKI_125_SLIP, 55),
  },
  {
    // Error statistics before the deferred-receipt line 58: the receipt is ended by 58.
    name: 'deferred receipt (11 ... 125 kind 3 ... 58)',
    lines: [...WIKI_HEADER, receiptLine(10972, '19.11.25', '19:55:40', 11, 292, '81', '12.00'), ...WIKI_125_ERRORS, receiptLine(10974, '19.11.25', '19:56:03', 58, 292, '', '12.00')],
  },
  {
    // A closed receipt, then error statistics with an empty receipt and a Z report, then the idle 125 at the end.
    name: 'closed receipt, 125 kind 3 outside receipts, Z report, 125 at the end',
    lines: [
      ...WIKI_HEADER,
      receiptLine(10970, '19.11.25', '19:55:10', 11, 291, '81', '12.00'),
      receiptLine(10971, '19.11.25', '19:55:12', 55, 291, '', '12.00'),
      ...WIKI_125_ERRORS,
      receiptLine(10975, '19.11.25', '20:10:00', 61, 292),
      ...WIKI_125_ERRORS.map((l, i) => (i === 0 ? l.replace(/^10973;19\.11\.25;19:56:02/, '10976;19.11.25;20:20:00') : l)),
    ],
  },
  {
    // A posted document after the last closed receipt: the file is complete.
    name: 'posted document (300) after a closed receipt',
    lines: [
      ...WIKI_HEADER,
      receiptLine(28086, '05.04.23', '19:36:30', 11, 1275, '81', '3.00'),
      receiptLine(28087, '05.04.23', '19:36:31', 55, 1275, '', '3.00'),
      ...WIKI_300_DOCUMENT,
    ],
  },
];
