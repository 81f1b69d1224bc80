/**
 * Writes config/agent.schema.json and the README's config-key tables from the
 * zod schema (the single source of truth), and its metrics table from
 * src/metrics/list.ts, so editors complete and check
 * config/agent.yaml and the README never disagrees with the code.
 * `npm run schema` rewrites both; a test fails when either is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withConfigDocs } from '../src/config/docs.js';
import { configJsonSchema } from '../src/config/json-schema.js';
import { withMetricsDocs } from '../src/metrics/list.js';

const schemaFile = fileURLToPath(new URL('../config/agent.schema.json', import.meta.url));
writeFileSync(schemaFile, configJsonSchema());
const readmeFile = fileURLToPath(new URL('../README.md', import.meta.url));
writeFileSync(readmeFile, withMetricsDocs(withConfigDocs(readFileSync(readmeFile, 'utf8'))));
console.log(`wrote ${schemaFile} and the config and metrics tables of ${readmeFile}`);
