/** The JSON Schema of the config file, generated from the zod schema. */
import { z } from 'zod';
import { configFileSchema } from './schema.js';

export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configFileSchema, { io: 'input', unrepresentable: 'any', target: 'draft-7' });
  return JSON.stringify({ ...schema, title: 'kassir-agent configuration' }, null, 2) + '\n';
}
