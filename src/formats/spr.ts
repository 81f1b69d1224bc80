/** SPR reference files: inspect a part, merge parts in order (see spr/merge.ts, spr/plan.ts). */
export { inspectSprPart, scanSprPart, type SprPartInfo, type SprPartScan } from './spr/scan.js';
export { SKIPPED_LINES_BUDGET, mergeSprParts, type SprMergeOptions, type SprMergePart, type SprMergeOutput, type SprMergeResult, type SprOutputEncoding } from './spr/merge.js';
export { sprPartNumber, compareSprPartNames } from './spr-names.js';
