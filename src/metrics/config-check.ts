/**
 * What `check-config` (and `run`, which loads the same way) says about the
 * metrics keys: the web config must be readable and protect something, and a
 * listener on a non-loopback address without that protection is refused: the
 * metrics name the till, its back office and its errors, and /healthz is a
 * cheap way to probe every till of a chain.
 */
import { resolve } from 'node:path';
import type { ConfigProblem } from '../config/problem.js';
import type { AgentSettings } from '../config/schema.js';
import { loadWebConfig, WebConfigError } from './web-config.js';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(host);
}

/** Resolves the metrics paths against the config file's folder; returns the problems. */
export function prepareMetricsConfig(m: AgentSettings['metrics'], base: string): ConfigProblem[] {
  if (m.webConfigFile !== undefined) m.webConfigFile = resolve(base, m.webConfigFile);
  if (m.textfile.dir !== undefined) m.textfile.dir = resolve(base, m.textfile.dir);
  const problems: ConfigProblem[] = [];
  if (m.webConfigFile !== undefined) {
    try {
      loadWebConfig(m.webConfigFile);
    } catch (e) {
      if (!(e instanceof WebConfigError)) throw e;
      for (const p of e.problems) problems.push({ path: 'metrics.webConfigFile', message: `${e.file}: ${p}` });
    }
  }
  if (m.enabled && !isLoopback(m.host) && m.webConfigFile === undefined) {
    problems.push({
      path: 'metrics.host',
      message:
        `${m.host} is not a loopback address: anyone on the network could read this till's metrics. ` +
        'Protect the listener with metrics.webConfigFile (TLS and/or basic auth, the web config of Prometheus exporters), ' +
        'or keep 127.0.0.1 and use metrics.textfile with node_exporter',
    });
  }
  return problems;
}
