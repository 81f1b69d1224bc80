/**
 * Every metric the agent exports, in one list: /metrics, the textfile export
 * and the README's metrics table (`npm run schema` writes it between the
 * metrics markers; a test fails when it is out of date) all come from here.
 * Names follow Prometheus conventions: the unit in the name, `_total` for
 * counters, `_timestamp_seconds` for Unix times, `_info` for a label set with
 * value 1. Every per-till series has the labels `pos` and `transport`.
 */
import type { StatusReport } from '../status.js';
import { withGeneratedBlock } from '../util/generated-block.js';
import { FLOWS, tillRows, type TillRow } from './till-row.js';

export interface MetricsInput {
  /** Status of the running exchanges (with `live`). */
  reports: StatusReport[];
  /** Every configured exchange, running or not. */
  configured: { pos: number; transport: string }[];
  version: string;
  node: string;
  now?: number;
}

type Labels = Record<string, string>;
type Sample = [Labels, number];

interface MetricDef {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  /** Label names, for the docs (values are in the samples). */
  labels: string[];
  samples(rows: TillRow[], input: MetricsInput): Sample[];
}

const TILL = ['pos', 'transport'];
const tillLabels = (r: TillRow): Labels => ({ pos: String(r.pos), transport: r.transport });

/** A per-till metric read off the till row; no sample where the row has no value. */
function perTill(name: string, type: MetricDef['type'], help: string, value: (r: TillRow) => number | undefined): MetricDef {
  return {
    name,
    type,
    help,
    labels: TILL,
    samples: (rows) => rows.flatMap((r) => (value(r) === undefined ? [] : [[tillLabels(r), value(r)!] as Sample])),
  };
}

/** A per-till metric from the running exchange's live counters (since the agent started). */
function perLive(value: (l: NonNullable<StatusReport['live']>) => number, extra: Labels = {}): (r: StatusReport) => Sample[] {
  return (r) => (r.live ? [[{ pos: String(r.pos), transport: r.transport, ...extra }, value(r.live)]] : []);
}

export const METRICS: MetricDef[] = [
  {
    name: 'kassir_agent_build_info',
    type: 'gauge',
    help: 'Always 1; the labels say which agent version runs on which Node.',
    labels: ['version', 'node'],
    samples: (_rows, input) => [[{ version: input.version, node: input.node }, 1]],
  },
  perTill('kassir_agent_up', 'gauge', '1 while the exchange runs, 0 when it is configured but not running (failed to start).', (r) => r.up),
  perTill('kassir_agent_queued_packages', 'gauge', 'Sealed packages waiting for delivery.', (r) => r.queuedPackages),
  perTill('kassir_agent_oldest_queued_age_seconds', 'gauge', 'Age of the oldest package waiting for delivery (0 when none).', (r) => r.oldestQueuedAgeSeconds),
  perTill('kassir_agent_open_transactions', 'gauge', 'Transactions in the open (not yet sealed) package.', (r) => r.openTransactions),
  perTill('kassir_agent_incoming_waiting', 'gauge', 'Incoming parts waiting for Kassir to take the previous file.', (r) => r.incomingWaiting),
  perTill('kassir_agent_held_files', 'gauge', 'Report files held in the till folder (not taken yet, e.g. an open receipt).', (r) => r.heldFiles),
  perTill('kassir_agent_oldest_held_file_age_seconds', 'gauge', 'How long the oldest held report file has been held (0 when none).', (r) => r.oldestHeldFileAgeSeconds),
  perTill('kassir_agent_last_successful_push_timestamp_seconds', 'gauge', 'Unix time of the last successful push (absent: never).', (r) => r.lastSuccessfulPushTimestampSeconds),
  perTill('kassir_agent_last_successful_pull_timestamp_seconds', 'gauge', 'Unix time of the last successful pull (absent: never).', (r) => r.lastSuccessfulPullTimestampSeconds),
  {
    name: 'kassir_agent_last_error_info',
    type: 'gauge',
    help: 'Always 1; `kind` is the error of the flow\'s last attempt: none, or unreachable, timeout, auth, tls, config, protocol, server, full, busy, local, unknown.',
    labels: [...TILL, 'flow', 'kind'],
    samples: (rows) =>
      rows.flatMap((r) =>
        FLOWS.flatMap((flow) => {
          const kind = flow === 'push' ? r.pushErrorKind : r.pullErrorKind;
          return kind === undefined ? [] : [[{ ...tillLabels(r), flow, kind }, 1] as Sample];
        }),
      ),
  },
  perTill('kassir_agent_reference_files_delivered_total', 'counter', 'Reference files (.spr) handed to Kassir (all time).', (r) => r.referenceFilesDelivered),
  perTill('kassir_agent_last_reference_delivery_timestamp_seconds', 'gauge', 'Unix time reference data was last handed to Kassir (absent: never).', (r) => r.lastReferenceDeliveryTimestampSeconds),
  {
    name: 'kassir_agent_push_attempts_total',
    type: 'counter',
    help: 'Push attempts since the agent started, by outcome (delivered, failed).',
    labels: [...TILL, 'outcome'],
    samples: (_rows, input) => [
      ...input.reports.flatMap(perLive((l) => l.attempts.delivered, { outcome: 'delivered' })),
      ...input.reports.flatMap(perLive((l) => l.attempts.failed, { outcome: 'failed' })),
    ],
  },
  {
    name: 'kassir_agent_sent_bytes_total',
    type: 'counter',
    help: 'Package bytes delivered since the agent started.',
    labels: TILL,
    samples: (_rows, input) => input.reports.flatMap(perLive((l) => l.bytesSent)),
  },
  {
    name: 'kassir_agent_sent_transactions_total',
    type: 'counter',
    help: 'Transactions delivered since the agent started.',
    labels: TILL,
    samples: (_rows, input) => input.reports.flatMap(perLive((l) => l.transactionsSent)),
  },
  perTill('kassir_agent_transactions_collected_total', 'counter', 'Transactions taken from the till (all time).', (r) => r.transactionsCollected),
  perTill('kassir_agent_quarantined_total', 'counter', 'Bad items put aside in quarantine (all time): report files, incoming parts.', (r) => r.quarantined),
  perTill('kassir_agent_shift_last_closed_number', 'gauge', 'Number of the last closed shift, from its Z report (absent: none closed yet).', (r) => r.shift?.lastClosedNumber),
  perTill('kassir_agent_shift_last_closed_timestamp_seconds', 'gauge', 'Unix time of the last closed shift\'s Z report (absent: none closed yet).', (r) => r.shift?.lastClosedTimestampSeconds),
  perTill('kassir_agent_shift_last_delivered_timestamp_seconds', 'gauge', 'Unix time the last closed shift was completely delivered to the back office (absent while it waits).', (r) => r.shift?.lastDeliveredTimestampSeconds),
  perTill('kassir_agent_shifts_undelivered', 'gauge', 'Closed shifts whose packages are not all delivered yet.', (r) => r.shift?.undelivered),
  perTill('kassir_agent_shift_oldest_undelivered_closed_timestamp_seconds', 'gauge', 'Unix time the oldest closed shift that is not delivered closed (absent: none waits).', (r) => r.shift?.oldestUndeliveredClosedTimestampSeconds),
  perTill('kassir_agent_shift_mismatches', 'gauge', 'Closed shifts (of those the ledger keeps) whose Z report revenue differs from the revenue of their receipts; partial shifts are not checked.', (r) => r.shift?.mismatches),
];

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The Prometheus text format (version 0.0.4). */
export function prometheusText(input: MetricsInput): string {
  const rows = tillRows(input.configured, input.reports, input.now);
  const out: string[] = [];
  for (const m of METRICS) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const [labels, v] of m.samples(rows, input)) {
      const l = Object.entries(labels)
        .map(([k, x]) => `${k}="${escapeLabel(x)}"`)
        .join(',');
      out.push(`${m.name}{${l}} ${Number.isFinite(v) ? v : 0}`);
    }
  }
  return out.join('\n') + '\n';
}

export const METRICS_DOCS_START = '<!-- metrics:start (generated by `npm run schema` from src/metrics/list.ts) -->';
export const METRICS_DOCS_END = '<!-- metrics:end -->';

/** Replaces the README's generated table of metrics. */
export function withMetricsDocs(readme: string): string {
  return withGeneratedBlock(readme, METRICS_DOCS_START, METRICS_DOCS_END, metricsDocs());
}

/** The README's table of metrics. */
export function metricsDocs(): string {
  return [
    '| metric | type | labels | meaning |',
    '|---|---|---|---|',
    ...METRICS.map((m) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(', ')} | ${m.help.replace(/\|/g, '\\|')} |`),
  ].join('\n');
}
