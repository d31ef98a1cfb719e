//! A fast scanner for the plain subset of YAML that specs are written in, which hands the loader
//! ([`super::span_index`]) the same events, with the same spans, as the reference parser
//! (granit, under serde-saphyr) would, or steps aside.
//!
//! The reference parser is general: it reads any YAML, one character at a time, through a queue
//! of tokens, and an organisation's spec spends more time there than in every check that follows.
//! Specs use a small part of YAML: block mappings and sequences, flow collections on one line,
//! plain and quoted one-line scalars, comments. This scanner reads that part a line at a time,
//! and [`Stop::Declined`] for anything else (tabs, carriage returns, characters outside printable
//! ASCII, anchors, aliases, tags, block scalars, multi-line scalars or flow collections, escapes
//! in double quotes, explicit keys, document markers, empty sequence items, and any text it does
//! not read as a whole line), so the caller parses that text with the reference instead. It never
//! guesses: a test holds its events equal to the reference's on every fixture, generated specs
//! and mutated texts, where it does not decline.

use std::borrow::Cow;

use serde_saphyr::granit_parser::{Event, Marker, ScalarStyle, Span, StructureStyle};

/// Why a scan stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The text is outside the subset: parse it with the reference parser.
    Declined,
    /// The consumer of the events refused one.
    Refused,
}

type Step<T = ()> = Result<T, Stop>;

/// Deeper flow collections are declined (the loader declines them anyway past its own budget).
const MAX_FLOW_DEPTH: usize = 64;
/// The reference parser refuses implicit keys longer than this.
const MAX_KEY_CHARS: usize = 1024;

/// Feeds `emit` the events of the document `text` (without the stream and document events),
/// each with its span, as the reference parser gives them; stops when `emit` answers `None`, or
/// at the first text outside the subset.
pub(crate) fn scan<'s>(text: &'s str, emit: impl FnMut(Event<'s>, Span) -> Option<()>) -> Step {
    let unsupported = |b: &u8| (*b < b' ' && *b != b'\n') || *b >= 0x7f;
    if text.as_bytes().iter().any(unsupported) {
        return Err(Stop::Declined);
    }
    let mut scanner = Scanner {
        text,
        emit,
        blocks: Vec::new(),
        pending: None,
        line: 0,
        line_start: 0,
        line_end: 0,
        rooted: false,
    };
    scanner.run()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mapping,
    Sequence,
}

/// An open block collection: its kind and the column of its keys or dashes.
#[derive(Debug, Clone, Copy)]
struct Block {
    kind: Kind,
    indent: usize,
}

/// A block mapping key as read: its text and style, where it ends, and where its `:` is.
struct Key<'s> {
    text: Cow<'s, str>,
    style: ScalarStyle,
    end: usize,
    colon: usize,
}

/// Whether a scalar sits in a block or inside a flow collection (where `,[]{}` end it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Block,
    Flow,
}

struct Scanner<'s, F> {
    text: &'s str,
    emit: F,
    blocks: Vec<Block>,
    /// Where the `:` of a block mapping key whose value is not on its line is: its value is a
    /// nested block, or null.
    pending: Option<Marker>,
    /// The current line (1-based) and its bounds (its end excludes the line break).
    line: usize,
    line_start: usize,
    line_end: usize,
    /// Whether the root node has been opened (a second one is another document).
    rooted: bool,
}

impl<'s, F: FnMut(Event<'s>, Span) -> Option<()>> Scanner<'s, F> {
    fn run(&mut self) -> Step {
        let bytes = self.text.as_bytes();
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            self.line += 1;
            self.line_start = start;
            self.line_end = end;
            let indent = bytes[start..end].iter().take_while(|&&b| b == b' ').count();
            let at = start + indent;
            if at < end && bytes[at] != b'#' {
                self.content_line(at, indent)?;
            }
            start = end + 1;
        }
        if !self.rooted {
            return Err(Stop::Declined);
        }
        self.line_start = self.text.len();
        self.line_end = self.text.len();
        self.close_deeper_than(None)
    }

    /// A line whose first character, at `at`, is not a comment.
    fn content_line(&mut self, at: usize, indent: usize) -> Step {
        let rest = &self.text[at..self.line_end];
        if indent == 0 && (rest.starts_with("---") || rest.starts_with("...")) {
            return Err(Stop::Declined);
        }
        self.close_deeper_than(Some(indent))?;
        let item = rest.starts_with("- ") || rest == "-";
        let Some(&top) = self.blocks.last() else {
            if self.rooted {
                return Err(Stop::Declined);
            }
            self.rooted = true;
            return self.open(at, indent, item);
        };
        if top.indent < indent {
            // Deeper than the open block: only as the value of the key just read.
            if self.pending.take().is_none() {
                return Err(Stop::Declined);
            }
            return self.open(at, indent, item);
        }
        match (top.kind, item) {
            (Kind::Sequence, true) => self.item(at),
            (Kind::Mapping, false) => {
                self.null_for_pending()?;
                self.entry(at)
            }
            (Kind::Mapping, true) => {
                // A sequence at its key's column.
                if self.pending.take().is_none() {
                    return Err(Stop::Declined);
                }
                let first = self.skip_spaces(at + 1);
                if first >= self.line_end || self.byte(first) == b'#' {
                    return Err(Stop::Declined);
                }
                self.push(Kind::Sequence, indent, first)?;
                self.item(at)
            }
            (Kind::Sequence, false) => {
                // The end of a sequence at its key's column, then the mapping's next key.
                self.blocks.pop();
                self.send(Event::SequenceEnd, self.empty_span(at))?;
                match self.blocks.last() {
                    Some(parent) if parent.kind == Kind::Mapping && parent.indent == indent => {
                        self.entry(at)
                    }
                    _ => Err(Stop::Declined),
                }
            }
        }
    }

    /// Opens the block collection whose first line starts at `at`: a sequence on a dash, a
    /// mapping otherwise.
    fn open(&mut self, at: usize, indent: usize, item: bool) -> Step {
        if item {
            self.push(Kind::Sequence, indent, at)?;
            self.item(at)
        } else {
            self.push(Kind::Mapping, indent, at)?;
            self.entry(at)
        }
    }

    /// Opens a block collection of `kind` whose entries sit at column `indent`, placed (as the
    /// reference places it) at `at`.
    fn push(&mut self, kind: Kind, indent: usize, at: usize) -> Step {
        self.blocks.push(Block { kind, indent });
        let start = self.marker(at);
        let event = match kind {
            Kind::Mapping => Event::MappingStart(StructureStyle::Block, 0, None),
            Kind::Sequence => Event::SequenceStart(StructureStyle::Block, 0, None),
        };
        self.send(event, Span::new(start, start))
    }

    /// Closes every block deeper than `indent` (all of them for `None`), giving a key still
    /// waiting for its value a null first.
    fn close_deeper_than(&mut self, indent: Option<usize>) -> Step {
        while let Some(top) = self.blocks.last().copied() {
            if indent.is_some_and(|indent| top.indent <= indent) {
                break;
            }
            self.null_for_pending()?;
            self.blocks.pop();
            let at = self.empty_span(self.line_start);
            match top.kind {
                Kind::Mapping => self.send(Event::MappingEnd, at)?,
                Kind::Sequence => self.send(Event::SequenceEnd, at)?,
            }
        }
        Ok(())
    }

    /// A null for the key still waiting for its value, placed at its `:` as the reference does.
    fn null_for_pending(&mut self) -> Step {
        if let Some(at) = self.pending.take() {
            self.send(
                Event::Scalar(Cow::Borrowed("~"), ScalarStyle::Plain, 0, None),
                Span::new(at, at),
            )?;
        }
        Ok(())
    }

    /// A sequence item whose dash is at `dash`: a scalar, a flow collection, or a mapping whose
    /// first key is on the dash's line.
    fn item(&mut self, dash: usize) -> Step {
        let at = self.skip_spaces(dash + 1);
        if at >= self.line_end || self.byte(at) == b'#' || self.text[at..].starts_with("- ") {
            return Err(Stop::Declined);
        }
        if let Some(key) = self.key(at)? {
            self.push(Kind::Mapping, at - self.line_start, at)?;
            return self.entry_of(at, key);
        }
        let end = self.node(at, Context::Block, 0)?;
        self.line_done(end)
    }

    /// The block mapping key at `at` (`key:` then a space or the line's end), read once for
    /// both the question and the entry; `None` when the text there is not a key.
    fn key(&self, at: usize) -> Step<Option<Key<'s>>> {
        let (text, style, end) = match self.byte(at) {
            b'\'' | b'"' => {
                let (text, end, style) = self.quoted(at)?;
                (text, style, end)
            }
            b'{' | b'[' => return Ok(None),
            _ => {
                let (text, end) = self.plain(at, Context::Block)?;
                (text, ScalarStyle::Plain, end)
            }
        };
        let colon = self.skip_spaces(end);
        if colon >= self.line_end || self.byte(colon) != b':' || !self.space_or_end(colon + 1) {
            return Ok(None);
        }
        if end - at > MAX_KEY_CHARS {
            return Err(Stop::Declined);
        }
        Ok(Some(Key {
            text,
            style,
            end,
            colon,
        }))
    }

    /// A block mapping entry starting at `at`.
    fn entry(&mut self, at: usize) -> Step {
        let key = self.key(at)?.ok_or(Stop::Declined)?;
        self.entry_of(at, key)
    }

    /// The entry whose `key` starts at `at`: the key, then its value on the line or (when the
    /// line ends after the `:`) the next lines' block, or null.
    fn entry_of(&mut self, at: usize, key: Key<'s>) -> Step {
        let Key {
            text,
            style,
            end,
            colon,
        } = key;
        self.send(
            Event::Scalar(text, style, 0, None),
            Span::new(self.marker(at), self.marker(end)),
        )?;
        let value = self.skip_spaces(colon + 1);
        if value >= self.line_end || self.byte(value) == b'#' {
            self.pending = Some(self.marker(colon));
            return Ok(());
        }
        if self.text[value..self.line_end].starts_with('-') && self.space_or_end(value + 1) {
            return Err(Stop::Declined);
        }
        let end = self.node(value, Context::Block, 0)?;
        self.line_done(end)
    }

    /// The rest of the line after a node ending at `end`: spaces, then a comment or nothing.
    fn line_done(&self, end: usize) -> Step {
        let at = self.skip_spaces(end);
        let commented = at < self.line_end && self.byte(at) == b'#' && at > end;
        if at >= self.line_end || commented {
            Ok(())
        } else {
            Err(Stop::Declined)
        }
    }

    /// A scalar or flow collection starting at `at`, emitted; where it ends.
    fn node(&mut self, at: usize, context: Context, depth: usize) -> Step<usize> {
        match self.byte(at) {
            b'{' | b'[' => self.flow(at, depth),
            b'\'' | b'"' => {
                let (text, end, style) = self.quoted(at)?;
                self.send(
                    Event::Scalar(text, style, 0, None),
                    Span::new(self.marker(at), self.marker(end)),
                )?;
                Ok(end)
            }
            _ => {
                let (text, end) = self.plain(at, context)?;
                if context == Context::Block && end < self.line_end && self.byte(end) == b':' {
                    // `a: b: c`, which the reference refuses.
                    return Err(Stop::Declined);
                }
                self.send(
                    Event::Scalar(text, ScalarStyle::Plain, 0, None),
                    Span::new(self.marker(at), self.marker(end)),
                )?;
                Ok(end)
            }
        }
    }

    /// A flow mapping or sequence opening at `at`, closed on the same line; where it ends.
    fn flow(&mut self, at: usize, depth: usize) -> Step<usize> {
        if depth >= MAX_FLOW_DEPTH {
            return Err(Stop::Declined);
        }
        let mapping = self.byte(at) == b'{';
        let (open, close, end_event) = if mapping {
            (
                Event::MappingStart(StructureStyle::Flow, 0, None),
                b'}',
                Event::MappingEnd,
            )
        } else {
            (
                Event::SequenceStart(StructureStyle::Flow, 0, None),
                b']',
                Event::SequenceEnd,
            )
        };
        self.send(open, Span::new(self.marker(at), self.marker(at + 1)))?;
        let mut p = self.skip_spaces(at + 1);
        if p < self.line_end && self.byte(p) == close {
            self.send(end_event, Span::new(self.marker(p), self.marker(p + 1)))?;
            return Ok(p + 1);
        }
        loop {
            if p >= self.line_end {
                return Err(Stop::Declined);
            }
            if mapping {
                if matches!(self.byte(p), b'{' | b'[') {
                    return Err(Stop::Declined);
                }
                let key_end = self.node(p, Context::Flow, depth + 1)?;
                let colon = self.skip_spaces(key_end);
                if colon >= self.line_end
                    || self.byte(colon) != b':'
                    || !self.space_or_end(colon + 1)
                {
                    return Err(Stop::Declined);
                }
                p = self.skip_spaces(colon + 1);
                if p >= self.line_end || matches!(self.byte(p), b',' | b'}' | b'#') {
                    return Err(Stop::Declined);
                }
            }
            let end = self.node(p, Context::Flow, depth + 1)?;
            p = self.skip_spaces(end);
            if p >= self.line_end {
                return Err(Stop::Declined);
            }
            match self.byte(p) {
                b',' => {
                    p = self.skip_spaces(p + 1);
                    if p >= self.line_end || matches!(self.byte(p), b',' | b'}' | b']' | b'#') {
                        return Err(Stop::Declined);
                    }
                }
                b if b == close => {
                    self.send(end_event, Span::new(self.marker(p), self.marker(p + 1)))?;
                    return Ok(p + 1);
                }
                _ => return Err(Stop::Declined),
            }
        }
    }

    /// A plain scalar starting at `at`: its text and where it ends (trailing spaces excluded).
    /// It ends at a `:` followed by a space or the line's end, at a comment, at the line's end,
    /// and, in a flow collection, at `,[]{}` or a `:` before one of them.
    fn plain(&self, at: usize, context: Context) -> Step<(Cow<'s, str>, usize)> {
        let bytes = self.text.as_bytes();
        if at >= self.line_end || b"-?:,[]{}#&*!|>'\"%@`".contains(&bytes[at]) {
            return Err(Stop::Declined);
        }
        let flow_indicator = |b: u8| matches!(b, b',' | b'[' | b']' | b'{' | b'}');
        let mut end = at;
        while end < self.line_end {
            let b = bytes[end];
            let next = bytes
                .get(end + 1)
                .copied()
                .filter(|_| end + 1 < self.line_end);
            let stop = match b {
                b':' => match next {
                    None | Some(b' ') => true,
                    Some(next) => context == Context::Flow && flow_indicator(next),
                },
                b'#' => bytes[end - 1] == b' ',
                b if context == Context::Flow => flow_indicator(b),
                _ => false,
            };
            if stop {
                break;
            }
            end += 1;
        }
        while end > at && bytes[end - 1] == b' ' {
            end -= 1;
        }
        Ok((Cow::Borrowed(&self.text[at..end]), end))
    }

    /// A quoted scalar starting at `at`, closed on its line: its text, where it ends (after the
    /// closing quote) and its style. Escapes in double quotes are declined.
    fn quoted(&self, at: usize) -> Step<(Cow<'s, str>, usize, ScalarStyle)> {
        let bytes = &self.text.as_bytes()[..self.line_end];
        let quote = bytes[at];
        let mut p = at + 1;
        let mut doubled = false;
        loop {
            let Some(&b) = bytes.get(p) else {
                return Err(Stop::Declined);
            };
            if quote == b'"' && b == b'\\' {
                return Err(Stop::Declined);
            }
            if b == quote {
                if quote == b'\'' && bytes.get(p + 1) == Some(&b'\'') {
                    doubled = true;
                    p += 2;
                    continue;
                }
                break;
            }
            p += 1;
        }
        let inner = &self.text[at + 1..p];
        let (text, style) = if quote == b'"' {
            (Cow::Borrowed(inner), ScalarStyle::DoubleQuoted)
        } else if doubled {
            (
                Cow::Owned(inner.replace("''", "'")),
                ScalarStyle::SingleQuoted,
            )
        } else {
            (Cow::Borrowed(inner), ScalarStyle::SingleQuoted)
        };
        Ok((text, p + 1, style))
    }

    fn byte(&self, at: usize) -> u8 {
        self.text.as_bytes()[at]
    }

    fn skip_spaces(&self, mut at: usize) -> usize {
        while at < self.line_end && self.byte(at) == b' ' {
            at += 1;
        }
        at
    }

    /// Whether `at` is a space or the line's end.
    fn space_or_end(&self, at: usize) -> bool {
        at >= self.line_end || self.byte(at) == b' '
    }

    /// Where byte `at` of the current line is (every character is one byte here).
    fn marker(&self, at: usize) -> Marker {
        Marker::new(at, self.line, at - self.line_start)
    }

    fn empty_span(&self, at: usize) -> Span {
        let marker = self.marker(at);
        Span::new(marker, marker)
    }

    fn send(&mut self, event: Event<'s>, span: Span) -> Step {
        (self.emit)(event, span).ok_or(Stop::Refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_saphyr::granit_parser::{Options, Parser};

    /// An event as the loader sees it: its value and, for a node, where it starts and ends
    /// (index, line, column).
    type Seen = (String, Option<[(usize, usize, usize); 2]>);

    fn seen(event: &Event<'_>, span: &Span) -> Option<Seen> {
        let at = |m: Marker| (m.index(), m.line(), m.col());
        match event {
            Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(..)
            | Event::DocumentEnd => None,
            Event::MappingEnd | Event::SequenceEnd => Some((format!("{event:?}"), None)),
            _ => Some((format!("{event:?}"), Some([at(span.start), at(span.end)]))),
        }
    }

    /// The reference parser's events of `text`, `None` when it fails or finds several documents.
    pub(crate) fn reference(text: &str) -> Option<Vec<Seen>> {
        let mut options = Options::default();
        options.emit_comments = false;
        let mut all = Vec::new();
        let mut documents = 0;
        for item in Parser::new_from_str_with_options(text, options) {
            let (event, span) = item.ok()?;
            if matches!(event, Event::DocumentStart(..)) {
                documents += 1;
            }
            all.extend(seen(&event, &span));
        }
        (documents == 1).then_some(all)
    }

    fn scanned(text: &str) -> Option<Vec<Seen>> {
        let mut all = Vec::new();
        let outcome = scan(text, |event, span| {
            all.extend(seen(&event, &span));
            Some(())
        });
        match outcome {
            Ok(()) => Some(all),
            Err(Stop::Declined) => None,
            Err(Stop::Refused) => unreachable!("the consumer never refuses"),
        }
    }

    /// Whether the scanner took `text`; when it did, its events are the reference's.
    pub(crate) fn agrees(text: &str) -> bool {
        let Some(scanned) = scanned(text) else {
            return false;
        };
        assert_eq!(Some(&scanned), reference(text).as_ref(), "{text:?}");
        true
    }

    #[test]
    fn reads_the_subset_as_the_reference_does() {
        for text in [
            "a: b\nlist:\n  - x: 1\n    y: \"q\"\n  - {m: n, o: [p, q]}\nk:\n- z\n- w # c\n",
            "quoted: 's'\nempty:\nlast: {}\n",
            "a:   # c\nb:\n- x\n- {y: 1}\nc:\n  - k: v\n    j:\n    - \"z\"\nd: x # c\n",
            "'it''s': \"d q\"\n\"k\": ''\nurl: https://example.com/a#b\narn: arn:aws:iam::1:role/r\n",
            "a : b\nc:    d   \ne: f g  # h\n",
            "  - name: x\n    from: {eks: c, namespace: n}\n  - name: y\n",
            "- {a: [], b: {}, c: [ {d: e} ], f: 'g, h'}\n- [x , y]\n",
            "a:\n  b:\n    c:\nd:\n",
            "# head\n\nroot:\n\n  # note\n  k: v\n\n",
            "a: b\n- not a key but a plain\n",
            "k: ~\nn: null\nt: true\nnum: 0123\nneg: x-1\n",
            "- a: 1\n  b:\n  - c\n  - d\n- e\n",
            "a: b:c\nd: e :f\n",
            "x: [a, 'b', \"c\"]\ny: {k: 'v''w'}\n",
            "\"a\" : b\n'c'  :  d\n",
            "-   a: 1\n    b: 2\n-  [x]\n",
            "a: b, c\nd: e]f\ng: h}i\n",
            "a: {b: c:d, e: f/g}\n",
        ] {
            assert_eq!(
                scanned(text).is_some(),
                reference(text).is_some(),
                "{text:?}"
            );
            if reference(text).is_some() {
                assert!(agrees(text), "declined {text:?}");
            }
        }
    }

    #[test]
    fn declines_what_it_does_not_read() {
        for text in [
            "",
            "# only a comment\n",
            "scalar\n",
            "a: b\n\tc: d\n",
            "a: b\r\n",
            "a: caf\u{e9}\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: two\n  lines\n",
            "a: \"two\n  lines\"\n",
            "a: [x,\n  y]\n",
            "a: \"esc\\n\"\n",
            "? a\n: b\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "-\n  a: 1\n",
            "- - a\n",
            "a: - b\n",
            "a: b: c\n",
            "a:\n  hello\n",
            "a:\n    b: 1\n  c: 2\n",
            "- a: 1\n b: 2\n",
            "a: [b,]\n",
            "a: {b}\n",
            "a: {b: }\n",
            "a: [c: d]\n",
            "a: \"x\"#c\n",
            "{a: b}: c\n",
            "a: -1\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: 1\nb: 2\n  c: 3\n",
        ] {
            assert!(scanned(text).is_none(), "took {text:?}");
        }
    }

    #[test]
    fn reads_every_fixture_as_the_reference_does() {
        let mut taken = 0;
        let mut files = 0;
        for dir in ["fixtures/valid", "fixtures/invalid"] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "yaml") {
                    files += 1;
                    taken += usize::from(agrees(&std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        // Most specs are in the subset: the scanner is the path they take.
        assert!(taken * 10 >= files * 8, "{taken} of {files}");
    }

    /// Characters that change how YAML reads a line.
    const NASTY: &[u8] = b" -:#'\"{}[],?&*!|>%@`~\n\t\\0aZ.";

    fn base() -> String {
        [
            "version: 1\n",
            "gcp:\n  projects:\n    - {id: p-1, number: \"123\"}\n    - {id: p-2, number: '456'}\n",
            "federations:\n",
            "  - name: gke-to-s3  # a comment\n",
            "    from: {gke: prod, namespace: ns, serviceAccount: sa}\n",
            "    to: {awsRole: \"arn:aws:iam::1:role/r\"}\n",
            "    via:\n      googleServiceAccount: a@p.iam.gserviceaccount.com\n",
            "  - name: eks\n    from:\n      eks: c\n      namespace: n\n",
            "    to: {gcpRoles: [roles/a, roles/b], project: p}\n",
            "accept:\n- rule: r\n  reason: 'it''s fine'\n",
        ]
        .concat()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Whatever a few edits make of a spec-like text, the scanner reads it as the reference
        /// does, or declines.
        #[test]
        fn edited_texts_are_read_as_the_reference_reads_them_or_declined(
            edits in proptest::collection::vec(
                (0usize..10_000, 0usize..NASTY.len(), 0u8..3),
                1..5,
            )
        ) {
            let mut text = base().into_bytes();
            for (at, with, how) in edits {
                let at = at % (text.len() + 1);
                match how {
                    0 => text.insert(at, NASTY[with]),
                    1 if at < text.len() => { text.remove(at); }
                    _ if at < text.len() => text[at] = NASTY[with],
                    _ => {}
                }
            }
            let text = String::from_utf8(text).unwrap();
            agrees(&text);
        }
    }
}
