// Validates JSON documents against crossfed's schema with Ajv in strict mode, as editors and CI
// tools built on Ajv do. argv: SCHEMA DOC...; prints one line per document, `ok NAME` or
// `invalid NAME <errors as JSON>`. Exits 2 when the schema itself is refused (strict mode throws on
// unknown keywords and formats, and on ambiguous or ignored constructs), else 0.
import { readFileSync } from 'node:fs';
import Ajv from 'ajv';

const [schemaPath, ...docs] = process.argv.slice(2);
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));
// The schema declares draft-07, Ajv's default draft; strict: true makes every strict check an error.
const ajv = new Ajv({ strict: true, allErrors: true });
let validate;
try {
  validate = ajv.compile(schema);
} catch (error) {
  console.error(`schema refused: ${error.message}`);
  process.exit(2);
}
for (const doc of docs) {
  const ok = validate(JSON.parse(readFileSync(doc, 'utf8')));
  const errors = (validate.errors ?? []).map((e) => ({ path: e.instancePath, message: e.message, params: e.params }));
  console.log(ok ? `ok ${doc}` : `invalid ${doc} ${JSON.stringify(errors)}`);
}
