/**
 * Writes config/agent.schema.json from the zod schema (the single source of
 * truth), so editors complete and check config/agent.yaml.
 * `npm run schema` rewrites it; a test fails when it is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchema } from '../src/config/json-schema.js';

const target = fileURLToPath(new URL('../config/agent.schema.json', import.meta.url));
writeFileSync(target, configJsonSchema());
console.log(`wrote ${target}`);
