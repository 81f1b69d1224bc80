/**
 * Fault injection for the KKMTransfer emulator: the ways a real back office
 * behind IIS/Apache misbehaves, programmable from tests (`setFault`) and from
 * the command line (`--fault delay:500,times=3`).
 */
export type FaultKind =
  /** Wait `ms` before handling the request (combines with one other fault). */
  | 'delay'
  /** Answer HTTP 500 with an IIS-style HTML page. */
  | 'http500'
  /** Close the connection without answering (nothing processed). */
  | 'drop'
  /** Answer 200 with a body that is not valid JSON. */
  | 'garbage'
  /** Answer 200 with errcode 2 and `message`. */
  | 'errcode2'
  /** Process the request (a SendData is stored), then close the connection before answering. */
  | 'lost-reply';

export const FAULT_KINDS: readonly FaultKind[] = ['delay', 'http500', 'drop', 'garbage', 'errcode2', 'lost-reply'];

export type RequestKind = 'receive' | 'send';

export interface FaultSpec {
  kind: FaultKind;
  /** `delay`: milliseconds. */
  ms?: number;
  /** `errcode2`: the errmessage. */
  message?: string;
  /** Apply to the next `times` matching requests, then expire. Default: every matching request until cleared. */
  times?: number;
  /** Apply to each matching request with this probability (0..1) instead of always. */
  probability?: number;
  /** Which requests: ReceiveData, SendData, or both (default). */
  on?: RequestKind | 'any';
}

interface ActiveFault extends FaultSpec {
  left: number;
}

/** The faults in force; `take` decides, per request, which apply and uses them up. */
export class FaultBoard {
  private faults: ActiveFault[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  add(spec: FaultSpec): void {
    if (!FAULT_KINDS.includes(spec.kind)) throw new Error(`unknown fault kind "${spec.kind}"; expected one of ${FAULT_KINDS.join(', ')}`);
    if (spec.kind === 'delay' && !(typeof spec.ms === 'number' && spec.ms >= 0)) throw new Error('fault delay needs ms >= 0');
    if (spec.probability !== undefined && !(spec.probability >= 0 && spec.probability <= 1)) throw new Error('fault probability must be within 0..1');
    this.faults.push({ ...spec, left: spec.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.faults = [];
  }

  /** The delays to apply, then at most one other fault, for a request of `kind`. */
  take(kind: RequestKind): { delayMs: number; fault?: FaultSpec } {
    let delayMs = 0;
    let fault: FaultSpec | undefined;
    for (const f of this.faults) {
      if (f.left <= 0 || (f.on !== undefined && f.on !== 'any' && f.on !== kind)) continue;
      if (f.kind !== 'delay' && fault) continue;
      if (f.probability !== undefined && this.random() >= f.probability) continue;
      f.left--;
      const { left: _left, ...spec } = f;
      if (f.kind === 'delay') delayMs += f.ms ?? 0;
      else fault = spec;
    }
    this.faults = this.faults.filter((f) => f.left > 0);
    return fault ? { delayMs, fault } : { delayMs };
  }
}

/**
 * Parse the CLI form `kind[:arg][,times=N][,p=0.25][,on=receive|send]`:
 * `delay:500`, `http500,times=2`, `errcode2:Период закрыт,on=send`, `lost-reply,on=send,times=1`, `drop,p=0.1`.
 */
export function parseFault(text: string): FaultSpec {
  const [head = '', ...opts] = text.split(',');
  const colon = head.indexOf(':');
  const kind = (colon < 0 ? head : head.slice(0, colon)).trim() as FaultKind;
  const arg = colon < 0 ? undefined : head.slice(colon + 1);
  if (!FAULT_KINDS.includes(kind)) throw new Error(`--fault "${text}": unknown kind "${kind}"; expected one of ${FAULT_KINDS.join(', ')}`);
  const spec: FaultSpec = { kind };
  if (kind === 'delay') {
    const ms = Number(arg);
    if (arg === undefined || !Number.isFinite(ms) || ms < 0) throw new Error(`--fault "${text}": delay needs milliseconds, e.g. delay:500`);
    spec.ms = ms;
  } else if (kind === 'errcode2' && arg !== undefined) spec.message = arg;
  for (const o of opts) {
    const [k, v = ''] = o.split('=');
    if (k === 'times' && /^\d+$/.test(v)) spec.times = Number(v);
    else if (k === 'p' && Number(v) >= 0 && Number(v) <= 1 && v !== '') spec.probability = Number(v);
    else if (k === 'on' && (v === 'receive' || v === 'send' || v === 'any')) spec.on = v;
    else throw new Error(`--fault "${text}": cannot read option "${o}" (times=N, p=0..1, on=receive|send)`);
  }
  return spec;
}
