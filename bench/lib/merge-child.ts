/**
 * Child process for peak-RSS measurement: merges the given parts and prints
 * {ms, maxRssMB, idleRssMB}. `idle` only loads the module (the baseline of a
 * node+tsx process), so the difference is what the merge itself costs.
 * Usage: merge-child.ts <outDir> idle|<part>...
 */
import { basename } from 'node:path';
import { mergeSprParts } from '../../src/formats/spr.js';

const [outDir, ...parts] = process.argv.slice(2);
const t0 = performance.now();
if (parts[0] !== 'idle') await mergeSprParts(parts.map((p) => ({ path: p, name: basename(p) })), outDir!);
const ms = performance.now() - t0;
console.log(JSON.stringify({ ms, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
