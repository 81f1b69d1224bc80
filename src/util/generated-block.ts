/** Replaces the text between two marker lines of a document (the README's generated tables). */
export function withGeneratedBlock(doc: string, start: string, end: string, body: string): string {
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`the document has no "${start}" ... "${end}" markers`);
  return doc.slice(0, a) + start + '\n\n' + body + '\n\n' + doc.slice(b);
}
