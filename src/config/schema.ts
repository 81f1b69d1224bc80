/**
 * The configuration schema: the ONLY place where keys, their defaults and their
 * descriptions live. `config/agent.schema.json` is generated from it
 * (`npm run schema`) so editors complete and check the YAML; the README's key
 * tables are written from the same descriptions.
 *
 * Every object is strict: an unknown key is an error, because a typo
 * (`reportFile` for `reportFiles`) is the commonest support call.
 * Relative paths are resolved against the config file's folder by `load.ts`
 * (the keys that hold paths are listed in `PATH_KEYS`).
 */
import { allowEntryProblem } from '../metrics/allow-list.js';
import { isValidCron } from './cron-syntax.js';
import { parseInterval } from './interval.js';
import { z } from 'zod';

const path = (what: string) => z.string().min(1, 'must not be empty').describe(`${what} (relative to the config file's folder)`);

const fileName = (what: string) =>
  z
    .string()
    .min(1, 'must not be empty')
    .refine((s) => !/[\\/]/.test(s), 'must be a bare file name, without a folder')
    .describe(what);

/** A name on the remote side: a file name, optionally under a folder (`Files/POS1.spr`). */
const remoteName = (what: string) =>
  z
    .string()
    .min(1, 'must not be empty')
    .refine((s) => !s.endsWith('/') && !s.split('/').includes('..'), 'must name a file (no trailing "/", no "..")')
    .describe(what);

const backoff = z
  .strictObject({
    initialMs: z.number().int().min(10).default(2_000).describe('Delay before the first retry, in ms.'),
    maxMs: z.number().int().min(10).default(300_000).describe('Retries never wait longer than this, in ms. Nothing is ever given up.'),
    jitter: z.number().min(0).max(1).default(0.3).describe('Share of each delay that is randomised (0..1), so many tills do not retry in step.'),
  })
  .describe('Retry with exponential backoff and jitter, capped, never giving up.');

const tls = z
  .strictObject({
    caFile: path('PEM file with the CA certificate(s) to trust, for a self-signed back office').optional(),
    rejectUnauthorized: z.boolean().default(true).describe('Check the server certificate. Turn off only for a test bench.'),
    servername: z.string().optional().describe('Server name for SNI and certificate checks, when it differs from the host.'),
  })
  .describe('TLS options.');

const secretFields = {
  password: z.string().optional().describe('Password. Prefer `${ENV_VAR}` or `passwordFile` over a literal.'),
  passwordFile: path('File whose first line is the password').optional(),
};

const sequencedFiles = {
  referenceName: remoteName('Reference file name on the remote side; parts are NAME.$1 .. NAME.$n (e.g. Files/POS1.spr).'),
  reportName: remoteName('Report file name on the remote side; packages are uploaded as NAME.$1 .. NAME.$n (e.g. Files/POS1.rep).'),
  sequenced: z
    .boolean()
    .default(true)
    .describe('false: the "FTP by 1C means" variant: files without the .$n suffix; a report is written only when the back office has taken the previous one.'),
};

export const folderTransportSchema = z
  .strictObject({
    type: z.literal('folder'),
    dir: path('The exchange folder (network share) the back office reads and writes'),
    ...sequencedFiles,
  })
  .describe('Files in a local or network folder.');

export const ftpTransportSchema = z
  .strictObject({
    type: z.literal('ftp'),
    host: z.string().min(1).describe('FTP server host name or address.'),
    port: z.number().int().min(1).max(65535).default(21).describe('FTP control port.'),
    user: z.string().default('anonymous').describe('FTP user.'),
    ...secretFields,
    secure: z
      .union([z.boolean(), z.literal('implicit')], { error: 'must be false (plain FTP), true (explicit FTPS: AUTH TLS) or implicit (implicit FTPS, usually port 990)' })
      .default(false)
      .describe('false: plain FTP; true: explicit FTPS (AUTH TLS); "implicit": implicit FTPS (usually port 990).'),
    tls: tls.prefault({}),
    encoding: z.enum(['utf8', 'cp1251']).default('utf8').describe('File-name encoding on the server: utf8, or cp1251 for servers with Russian Windows names.'),
    timeoutMs: z.number().int().min(100).default(30_000).describe('No answer for this long (ms) means the connection is dead; it is reopened.'),
    ...sequencedFiles,
  })
  .describe('An FTP or FTPS server.');

export const kkmTransferTransportSchema = z
  .strictObject({
    type: z.literal('kkmtransfer'),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .describe('The KKMTransfer service root, e.g. https://bo.example/trade/hs/KKMTransfer.'),
    user: z.string().optional().describe('HTTP basic authentication user (none when absent).'),
    ...secretFields,
    tls: tls.prefault({}),
    timeoutMs: z.number().int().min(100).default(60_000).describe('Connect, headers and body timeout for one request, in ms.'),
    zipReports: z
      .boolean()
      .default(true)
      .describe('SendData body: a ZIP with the report file inside (true, like incoming packages) or the plain report file (false). Ask your back office.'),
    maxPackageBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 ** 3)
      .describe('Largest incoming package accepted after unzipping, in bytes (zip-bomb guard).'),
  })
  .describe('The KKMTransfer HTTP service of the back office (Shtrih-M Trade Enterprise 7, 1C).');

export const equipmentServiceTransportSchema = z
  .strictObject({
    type: z.literal('equipment-service'),
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .describe(
        "The 1C web service EquipmentService, e.g. https://host/retail/ws/EquipmentService.1cws ('retail' is the base's publication name: case-sensitive in 1C).",
      ),
    user: z.string().optional().describe('1C user with the data-synchronisation role, sent as HTTP basic authentication in UTF-8 (Cyrillic names work).'),
    ...secretFields,
    deviceId: z
      .string()
      .min(1, 'must not be empty')
      .max(36, 'must be at most 36 characters (1C StringID)')
      .describe("The offline cash register's web-service identifier, exactly as in its device card in 1C."),
    soapVersion: z.enum(['1.1', '1.2']).default('1.1').describe('SOAP version to speak; 1C publishes both.'),
    tls: tls.prefault({}),
    timeoutMs: z.number().int().min(100).default(60_000).describe('Connect, headers and body timeout for one SOAP call, in ms.'),
    maxPackageBytes: z
      .number()
      .int()
      .min(1024)
      .default(256 * 1024 ** 2)
      .describe('Largest SOAP answer accepted (one price-list package), in bytes.'),
    taxGroups: z
      .record(
        z.string().min(1),
        z.number().int().min(0, 'must be a Kassir tax group code (a whole number >= 0)').describe('Kassir tax group code (SPR goods field 11).'),
      )
      .refine((m) => Object.keys(m).length > 0, 'must map at least one 1C tax rate, e.g. { "20": 1, "10": 2, "0": 3, "none": 4 }')
      .describe(
        '1C TaxRate value (20, 10, 0, none, 22, ...) -> the code of the Kassir tax group with that rate. Required: a good whose rate is not here is refused with the whole price list, never loaded with a wrong tax.',
      ),
    paymentKinds: z
      .record(z.string().min(1), z.string().min(1))
      .default({ '1': 'cash' })
      .describe(
        'For the upload of sales: Kassir payment kind (field 11 of a payment line) -> "cash", or the code of a 1C electronic payment option (1C sends them in the device Settings; 1C:УТ 11: 1 card, 2 bank credit, 3 gift certificate, 4 bonuses). A receipt paid with a kind not listed holds its shift back (not posted) with a message naming the receipt and the kind.',
      ),
    taxationSystem: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("For the upload of sales: 1C's code of the shop's taxation system written into each check; unset: the first one 1C sends in the device Settings."),
    nameMaxLength: z.number().int().min(10).default(255).describe('Goods names longer than this are cut in the reference file for Kassir.'),
    formPollMs: z
      .number()
      .int()
      .min(10)
      .default(1_000)
      .describe('First wait while 1C is still forming a price-list transfer (IsFormed=false), in ms; doubled each time.'),
    formWaitMs: z
      .number()
      .int()
      .min(0)
      .default(60_000)
      .describe('How long to wait for 1C to form a price-list transfer before preparing it again, in ms.'),
  })
  .describe('The 1C offline-equipment web service EquipmentService (1C:Retail, 1C:УТ 11, 1C:УНФ without an exchange processing).');

export const transportSchema = z.discriminatedUnion('type', [folderTransportSchema, ftpTransportSchema, kkmTransferTransportSchema, equipmentServiceTransportSchema]);

const typeNumber = (what: string, dflt: number) => z.number().int().min(0).default(dflt).describe(`Transaction type of ${what}.`);
const typeList = (what: string, dflt: number[], min = 1) => z.array(z.number().int().min(0)).min(min).default(dflt).describe(`Transaction types of ${what}.`);
const fieldNumber = (what: string, dflt: number) => z.number().int().min(1).max(64).default(dflt).describe(`Field (counted from 1) holding ${what}.`);

/**
 * Where the shift ledger finds its money figures in report lines. No official table exists: the
 * defaults are the layout back-office readers of the same format family use (docs/SHIFTS.md), to be
 * checked against a real Kassir 5 report file and changed here when it differs.
 */
export const shiftLayout = z
  .strictObject({
    zReportType: typeNumber('the Z report, which closes a shift', 61),
    zNumberField: fieldNumber("the Z report's shift number", 8),
    zRevenueField: fieldNumber("the Z report's revenue", 12),
    zCashInDrawerField: fieldNumber("the Z report's cash in the drawer", 10),
    receiptClosedTypes: typeList('the lines that close a receipt (a prepayment receipt counts as a sale)', [55, 655]),
    receiptCancelledTypes: typeList('the lines that cancel a receipt', [56]),
    receiptDeferredTypes: typeList('the lines that defer a receipt (it counts when it is finally closed)', [58]),
    receiptTotalField: fieldNumber("a receipt's total on its closing line (negative for a return receipt)", 12),
    paymentType: typeNumber('a payment', 40),
    paymentKindField: fieldNumber("a payment's kind (1 = cash)", 11),
    paymentTenderedField: fieldNumber("a payment's amount tendered (negative in a return receipt)", 12),
    paymentChangeField: fieldNumber("a payment's change", 10),
    cashInType: typeNumber('a cash deposit (cash in)', 50),
    cashOutType: typeNumber('a cash withdrawal (cash out)', 51),
    cashAmountField: fieldNumber('the amount of a cash in/out line (unsigned: the type gives the direction)', 12),
    // The receipt's contents, read only where a shift is posted line by line (the EquipmentService upload).
    goodsTypes: typeList('the goods lines of a receipt (registration or return by goods code; a prepayment position too)', [11, 13, 14, 611]),
    prepaymentTypes: typeList('the goods lines that are prepayment positions (posted with PaymentMethod 1)', [611], 0),
    freePriceTypes: typeList('free-price registrations and returns, which carry no goods code', [1, 2, 3, 4], 0),
    stornoType: typeNumber('a storno (cancelling part of an earlier goods line of the receipt)', 12),
    positionDiscountTypes: typeList('discounts on one position', [15, 17], 0),
    positionMarkupTypes: typeList('markups on one position', [16, 18], 0),
    receiptDiscountTypes: typeList('discounts on the whole receipt', [35, 37], 0),
    receiptMarkupTypes: typeList('markups on the whole receipt', [36, 38], 0),
    returnByReceiptType: typeNumber('a return by receipt number (names the receipt returned)', 80),
    goodsCodeField: fieldNumber("a goods, storno or position discount line's goods code", 8),
    goodsSectionField: fieldNumber("a goods or storno line's section", 9),
    goodsPriceField: fieldNumber("a goods or storno line's price", 10),
    goodsQuantityField: fieldNumber("a goods or storno line's quantity", 11),
    goodsSumField: fieldNumber("a goods or storno line's sum", 12),
    adjustmentSumField: fieldNumber("a discount or markup line's amount", 12),
    returnedReceiptField: fieldNumber('the number of the receipt a return by receipt number returns', 12),
  })
  .describe('Where the shift ledger reads shifts and money in report lines: third-party practice of the format family, not an official table (see docs/SHIFTS.md).');

export type ShiftLayout = z.output<typeof shiftLayout>;

/** The keys of one exchange: one POS, one till folder, one transport, one data folder. */
const exchangeShape = {
    pos: z.number().int().min(1).describe('Workplace number (НомерПОС) of this till.'),
    dataDir: path('Folder for the durable state: counters, inbox, outbox, archive, history, quarantine'),
    till: z
      .strictObject({
        dir: path("Kassir's local exchange folder"),
        referenceFile: fileName('File Kassir loads reference data from, in till.dir (e.g. POS1.spr).'),
        reportFiles: z.string().min(1).default('*.rep').describe('Pattern (* and ?) of the report files Kassir writes in till.dir.'),
        requestFile: fileName(
          'File a KKMTransfer flr request (request for transactions) is delivered to, in till.dir. Default: referenceFile with the extension .flr.',
        ).optional(),
        settleMs: z
          .number()
          .int()
          .min(0)
          .default(2_000)
          .describe('A report file is taken over only after it has not changed for this long (ms): Kassir has finished writing it.'),
        openReceiptMs: z
          .number()
          .int()
          .min(0)
          .default(600_000)
          .describe(
            'A report file that ends inside a receipt with no end line yet (55/56/58, 655 for a prepayment receipt) is held for Kassir for up to this long (ms) after its last write, so the receipt is never split; after that it is taken as it is, with a warning. Extra-data lines (125, 300) never hold a file.',
          ),
        rescanMs: z
          .number()
          .int()
          .min(100)
          .default(5_000)
          .describe('Rescan the till folder this often (ms); file events are only hints (they are lost on network folders).'),
        referenceEncoding: z
          .enum(['auto', 'utf8bom', 'cp1251'])
          .default('auto')
          .describe('Encoding of the merged reference file: auto (the parts\' own; UTF-8 with BOM when they differ), utf8bom or cp1251.'),
      })
      .describe('The Kassir side.')
      // The request file's default is named after the reference file, so it is filled here, after the keys are read.
      .transform((t) => ({ ...t, requestFile: t.requestFile ?? t.referenceFile.replace(/(\.[^.]*)?$/, '.flr') })),
    transport: transportSchema.describe('How the agent reaches the back office: folder, ftp, kkmtransfer or equipment-service.'),
    batch: z
      .strictObject({
        maxTransactions: z.number().int().min(1).default(1000).describe('Most transactions in one package ("number of transactions to unload"); a receipt is never split.'),
        flushMs: z
          .number()
          .int()
          .min(0)
          .default(5_000)
          .describe(
            'The open package collects receipts for this long (ms) after its first transaction, then is sealed and sent (at once when full). While older packages wait for the back office it keeps filling up to maxTransactions, so an outage does not become a pile of tiny packages.',
          ),
        sealOnShiftClose: z
          .boolean()
          .default(true)
          .describe('Seal the open package right after a Z report (shifts.zReportType), so a package never holds transactions of two shifts and a closed shift leaves at once.'),
      })
      .prefault({})
      .describe('Packaging of outgoing transactions.'),
    shifts: shiftLayout.prefault({}),
    schedule: z
      .strictObject({
        pull: z
          .string()
          .default('30s')
          .refine(
            (e) => parseInterval(e) !== undefined || isValidCron(e),
            'neither an interval ("30s", "5m", "1h") nor a valid cron expression (e.g. "0 */15 6-22 * * *": every 15 min from 6:00 to 22:45)',
          )
          .describe(
            'When to fetch reference data: an interval ("30s", "5m", "1h"; counted from the start) or a cron expression (node-cron, seconds field optional, e.g. "0 */15 6-22 * * *"). An interval costs less memory: node-cron\'s time-zone handling loads about 6 MB of locale data.',
          ),
        retry: backoff.prefault({}),
      })
      .prefault({})
      .describe('Scheduling.'),
    archive: z
      .strictObject({
        retentionDays: z.number().int().min(1).default(30).describe('Delivered packages and the attempt history are kept this many days.'),
      })
      .prefault({})
      .describe('Archive and history retention.'),
};

/** `log.progressIntervalMs`'s default, named for the code that runs without a loaded config (an Exchange built in a test). */
export const PROGRESS_INTERVAL_MS = 10_000;

/** Keys that concern the whole agent, whatever the number of exchanges. */
const agentShape = {
    log: z
      .strictObject({
        level: z.enum(['error', 'warn', 'info', 'debug']).default('info').describe('Least important level written.'),
        dir: path('Folder for the daily JSON-lines log files').optional(),
        console: z.boolean().default(true).describe('Also write readable lines to the console (stdout).'),
        maxFiles: z.string().default('30d').describe('How long daily log files are kept (winston-daily-rotate-file, e.g. 30d or 10 files).'),
        progressIntervalMs: z
          .number()
          .int()
          .min(100)
          .default(PROGRESS_INTERVAL_MS)
          .describe('While a long activity lasts (a reference download, a backlog drain), one `progress` line per this many ms (done of total, rate, time left); shorter work writes none.'),
      })
      .prefault({})
      .describe('Logging.'),
    control: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Accept commands (exchange-now, retry, status, resend) from the kassir-agent command on this machine.'),
        socket: z
          .string()
          .optional()
          .describe(
            'Where the running agent listens for commands: a Unix socket path, or a Windows named pipe (\\\\.\\pipe\\NAME). Default: control.sock in the first exchange\'s dataDir (a pipe named after it on Windows). Only local users with access to it can send commands.',
          ),
      })
      .prefault({})
      .describe('Control of the running agent from the command line.'),
    stop: z
      .strictObject({
        deadlineMs: z
          .number()
          .int()
          .min(1_000)
          .max(25_000)
          .default(10_000)
          .describe(
            'After SIGTERM/SIGINT (a service stop) the process exits within this many ms: work in progress is aborted at the deadline (it resumes at the next start) and the log is closed last. At most 25 s: the systemd unit (TimeoutStopSec) and the Windows service (stoptimeout) wait 30 s.',
          ),
      })
      .prefault({})
      .describe('Stopping.'),
    metrics: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Serve /healthz and /metrics (Prometheus text format) over HTTP(S).'),
        host: z
          .string()
          .min(1)
          .default('127.0.0.1')
          .describe(
            'Address to listen on. A loopback address (127.x.x.x, ::1, localhost) needs nothing more; any other (the till\'s LAN address, 0.0.0.0) is refused unless `metrics.webConfigFile` protects the listener.',
          ),
        port: z.number().int().min(0).max(65535).default(9464).describe('TCP port for /healthz and /metrics.'),
        webConfigFile: path(
          'Web configuration file in the format of Prometheus and its exporters (`tls_server_config`: cert_file, key_file, client_ca_file; `basic_auth_users`: user: bcrypt hash); `promtool check web-config` checks it too',
        ).optional(),
        allowFrom: z
          .array(z.string().superRefine((v, ctx) => {
            const problem = allowEntryProblem(v);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          }))
          .min(1)
          .optional()
          .describe('Only these client addresses or CIDR ranges may connect (e.g. ["10.0.5.10", "10.0.0.0/16"]); others get 403. Default: any client that passes TLS and basic auth.'),
        maxQueueAgeMs: z
          .number()
          .int()
          .min(1000)
          .default(900_000)
          .describe('/healthz turns red when a package has waited longer than this (ms), or the last successful push is older than this while packages wait.'),
        textfile: z
          .strictObject({
            dir: path("Folder node_exporter's textfile collector reads (--collector.textfile.directory); the export is off without it").optional(),
            name: fileName('File name of the export in textfile.dir.')
              .refine((n) => n.endsWith('.prom'), 'must end in .prom (the textfile collector reads only *.prom)')
              .default('kassir-agent.prom'),
            intervalMs: z.number().int().min(1000).default(15_000).describe('Write the export this often (ms).'),
          })
          .prefault({})
          .describe('The same metrics written atomically into a file for node_exporter (independent of metrics.enabled).'),
      })
      .prefault({})
      .describe('Health and metrics endpoints (off by default).'),
};

export const exchangeSchema = z.strictObject(exchangeShape).describe('One exchange: one POS, its till folder, its transport and its data folder.');

/** The single-till form: the exchange keys at the top level. */
export const singleConfigSchema = z.strictObject({ ...exchangeShape, ...agentShape }).describe('kassir-agent configuration for one till.');

/** Several tills per agent: a list of exchanges, each running independently. */
export const multiConfigSchema = z
  .strictObject({
    exchanges: z.array(exchangeSchema).min(1, 'needs at least one exchange').describe('The exchanges this agent runs, each with its own pos, till folder, transport and dataDir.'),
    ...agentShape,
  })
  .describe('kassir-agent configuration for several tills.');

/** What the config file may hold (for the JSON Schema). */
export const configFileSchema = z.union([singleConfigSchema, multiConfigSchema]).describe('kassir-agent configuration.');

export type ExchangeConfig = z.output<typeof exchangeSchema>;
export type AgentSettings = Omit<z.output<typeof singleConfigSchema>, keyof typeof exchangeShape>;
/** The loaded configuration: always a list of exchanges (the single-till form has one). */
export interface Config extends AgentSettings {
  exchanges: ExchangeConfig[];
}

/** Keys (dotted, within one exchange) that hold paths and are resolved against the config file's folder. */
export const EXCHANGE_PATH_KEYS = ['dataDir', 'till.dir', 'transport.dir', 'transport.tls.caFile', 'transport.passwordFile'] as const;
