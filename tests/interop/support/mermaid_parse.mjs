// Parses a Mermaid diagram read from stdin with the real `mermaid` package, as GitHub's renderer
// does. Exit 0 and print the diagram type when it parses; exit 1 with the parser's message when not.
// Mermaid expects a browser: jsdom provides the DOM it touches while loading.
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;

const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let text = '';
for await (const chunk of process.stdin) text += chunk;
try {
  const result = await mermaid.parse(text);
  console.log(result.diagramType);
} catch (error) {
  console.error(String(error?.message ?? error));
  process.exit(1);
}
