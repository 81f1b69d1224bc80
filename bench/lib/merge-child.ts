/**
 * Child process for peak-RSS measurement: merges the given parts and prints
 * {ms, maxRssMB}. `idle` only loads the module (the baseline of a node+tsx
 * process), so the difference is what the merge itself costs.
 * Usage: merge-child.ts <outDir> idle|<part>...
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { mergeSprParts } from '../../src/formats/spr.js';

const [outDir, ...parts] = process.argv.slice(2);
const t0 = performance.now();
if (parts[0] !== 'idle') await mergeSprParts(parts.map((p) => ({ path: p, name: basename(p) })), outDir!);
const ms = performance.now() - t0;
// VmHWM is this process image's own peak RSS. getrusage's maxRSS is not: on
// Linux it keeps the parent's high-water mark across fork+exec, so a big
// parent would hide the child's figure.
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
const maxRssMB = (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024;
console.log(JSON.stringify({ ms, maxRssMB }));
