// Parse an AsyncAPI document with the official parser; exit 1 on any error diagnostic.
//   node deploy/asyncapi/validate.mjs docs/asyncapi.yaml [--strict]   (--strict: warnings too)
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: node validate.mjs <asyncapi.yaml> [--strict]');
  process.exit(2);
}
const names = { [DiagnosticSeverity.Error]: 'error', [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info', [DiagnosticSeverity.Hint]: 'hint' };
const { document, diagnostics } = await new Parser().parse(await readFile(file, 'utf8'),
  { source: file });
for (const d of diagnostics) {
  const where = d.path && d.path.length ? d.path.join('.') : '(root)';
  const line = d.range ? `:${d.range.start.line + 1}` : '';
  console.error(`${names[d.severity] ?? d.severity} ${d.code} ${file}${line} ${where}: ${d.message}`);
}
const failing = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error
  || (strict && d.severity === DiagnosticSeverity.Warning));
if (!document || failing.length) {
  console.error(`${file}: invalid (${failing.length} problem(s))`);
  process.exit(1);
}
console.log(`${file}: valid AsyncAPI ${document.version()}, `
  + `${document.channels().length} channels, ${document.operations().length} operations, `
  + `${document.messages().length} messages`);
