//! Maps JSON Pointers into the YAML source, so every diagnostic can name `file:line:column`.
//!
//! Built from the parser's event stream in one pass, independently of deserialization: the
//! schema check and the semantic checks speak in pointers (`/federations/1/from/namespace`), and
//! this index answers where that key and its value start. Aliases are not expanded: a pointer
//! into an aliased node resolves to the alias itself, which is where the user must look anyway.

use std::collections::BTreeMap;

use serde_saphyr::granit_parser::{Event, Parser, Span};

/// A position in the source: 1-based line, 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

/// Where a node and the key that holds it sit in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpan {
    /// The mapping key that holds the node, if it is held by a mapping.
    pub key: Option<(Pos, usize)>,
    /// Where the node starts, and its width in characters when it is a one-line scalar.
    pub value: (Pos, usize),
}

/// Node positions by JSON Pointer (`""` is the document root).
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    nodes: BTreeMap<String, NodeSpan>,
}

enum Frame {
    Mapping {
        pointer: String,
        key: Option<(String, Pos, usize)>,
    },
    Sequence {
        pointer: String,
        next: usize,
    },
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

fn width(span: &Span) -> usize {
    if span.end.line() == span.start.line() {
        span.end.index().saturating_sub(span.start.index()).max(1)
    } else {
        1
    }
}

/// Escapes one JSON Pointer reference token.
#[must_use]
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl SpanIndex {
    /// Indexes `source`. Stops quietly at the first syntax error: the parser reports those itself,
    /// and everything before the error is still indexed.
    #[must_use]
    pub fn build(source: &str) -> Self {
        let mut index = SpanIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(source) {
            let Ok((event, span)) = item else { break };
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Mapping {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        *key = Some((value.into_owned(), pos(&span), width(&span)));
                    } else {
                        let _ = index.record_node(&mut stack, &span);
                    }
                }
                Event::Alias(_) => {
                    let _ = index.record_node(&mut stack, &span);
                }
                Event::MappingStart(..) => {
                    let pointer = index.record_node(&mut stack, &span);
                    stack.push(Frame::Mapping { pointer, key: None });
                }
                Event::SequenceStart(..) => {
                    let pointer = index.record_node(&mut stack, &span);
                    stack.push(Frame::Sequence { pointer, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                Event::DocumentEnd => break,
                _ => {}
            }
        }
        index
    }

    /// Records the node that starts at `span` under the current parent, returns its pointer.
    fn record_node(&mut self, stack: &mut [Frame], span: &Span) -> String {
        let (pointer, key) = match stack.last_mut() {
            None => (String::new(), None),
            Some(Frame::Sequence { pointer, next }) => {
                let child = format!("{pointer}/{next}");
                *next += 1;
                (child, None)
            }
            Some(Frame::Mapping { pointer, key }) => match key.take() {
                Some((name, at, len)) => (
                    format!("{pointer}/{}", escape_token(&name)),
                    Some((at, len)),
                ),
                // A complex (non-scalar) key: index it nowhere; the schema rejects it.
                None => (format!("{pointer}/?"), None),
            },
        };
        self.nodes.entry(pointer.clone()).or_insert(NodeSpan {
            key,
            value: (pos(span), width(span)),
        });
        pointer
    }

    /// The span of the node at `pointer`, or of its nearest indexed ancestor.
    #[must_use]
    pub fn lookup(&self, pointer: &str) -> Option<(&str, NodeSpan)> {
        let mut current = pointer;
        loop {
            if let Some((at, span)) = self.nodes.get_key_value(current) {
                return Some((at.as_str(), *span));
            }
            current = &current[..current.rfind('/')?];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_block_and_flow_nodes() {
        let source = "a:\n  b: [x, {c: d}]\n  e: hello\nlist:\n  - one\n  - two: 2\n";
        let index = SpanIndex::build(source);
        let at = |p: &str| {
            index
                .lookup(p)
                .map(|(_, s)| (s.key.map(|k| k.0), s.value.0, s.value.1))
        };
        let p = |line, column| Pos { line, column };
        assert_eq!(at("/a/e"), Some((Some(p(3, 3)), p(3, 6), 5)));
        assert_eq!(at("/a/b/1/c"), Some((Some(p(2, 11)), p(2, 14), 1)));
        assert_eq!(at("/list/1/two"), Some((Some(p(6, 5)), p(6, 10), 1)));
        assert_eq!(at("/list/0").map(|s| s.1), Some(p(5, 5)));
        // An unknown child falls back to its nearest ancestor.
        let (found, _) = index.lookup("/a/missing/deeper").unwrap();
        assert_eq!(found, "/a");
    }

    #[test]
    fn escapes_pointer_tokens() {
        let index = SpanIndex::build("\"x/y~z\": 1\n");
        assert!(
            index
                .lookup("/x~1y~0z")
                .is_some_and(|(p, _)| p == "/x~1y~0z")
        );
    }
}
