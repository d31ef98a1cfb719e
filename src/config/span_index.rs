//! Maps JSON Pointers into the YAML source, so every diagnostic can name `file:line:column`, and
//! the one-pass loader that builds the spec's value and this index from one parse.
//!
//! The index mirrors the document's tree: each node records where it starts (and the key that
//! holds it), and a pointer (`/federations/1/from/namespace`) is resolved by walking that tree,
//! so building it costs one small record per node, not a pointer string per node. Aliases are not
//! expanded: a pointer into an aliased node resolves to the alias itself, which is where the user
//! must look anyway.
//!
//! [`load`] walks the parser's events once and builds both the `serde_json::Value` and the index.
//! The events come from the fast scanner ([`super::scan`]), which gives the reference parser's
//! events for the text it reads, or, for a text it declines, from the reference parser itself.
//! The walk handles the plain subset that real specs are written in (block and flow collections,
//! quoted and block scalars, plain strings, booleans, nulls and unsigned decimal integers) and
//! answers `None` for anything else (anchors, aliases, tags, merge keys, other numbers, duplicate
//! keys, several documents, deep nesting, any syntax error). The caller then parses with
//! serde-saphyr, whose semantics and messages are the reference, and builds the index with
//! [`SpanIndex::build`] only if it has something to report. A test checks that both paths give
//! equal values.

use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser::{Event, Options, Parser, ScalarStyle, Span};

use super::scan;

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

/// Node positions, looked up by JSON Pointer (`""` is the document root).
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    root: Option<Node>,
}

#[derive(Debug, Clone)]
struct Node {
    span: NodeSpan,
    children: Children,
}

#[derive(Debug, Clone)]
enum Children {
    Leaf,
    Sequence(Vec<Node>),
    /// In source order; a repeated key keeps its first entry first, which is the one found. A
    /// complex (non-scalar) key is recorded under `?`.
    Mapping(Vec<(String, Node)>),
}

/// Where `span` starts, in a text whose first `lines` lines were cut off before parsing.
fn pos(span: &Span, lines: usize) -> Pos {
    Pos {
        line: span.start.line() + lines,
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

fn unescape_token(token: &str) -> std::borrow::Cow<'_, str> {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~").into()
    } else {
        token.into()
    }
}

impl SpanIndex {
    /// Indexes `source`. Stops quietly at the first syntax error: the parser reports those itself,
    /// and everything before the error is still indexed.
    #[must_use]
    pub fn build(source: &str) -> Self {
        let mut walk = Walk::new(source, false, true);
        for item in Parser::new_from_str_with_options(source, parser_options()) {
            let Ok((event, span)) = item else { break };
            if walk.event(event, &span).is_none() {
                break;
            }
        }
        walk.finish().1
    }

    /// The span of the node at `pointer`, or of its nearest indexed ancestor, with the part of
    /// `pointer` that was found.
    #[must_use]
    pub fn lookup<'p>(&self, pointer: &'p str) -> Option<(&'p str, NodeSpan)> {
        let mut node = self.root.as_ref()?;
        let mut found = 0;
        let mut rest = pointer;
        while let Some(after) = rest.strip_prefix('/') {
            let end = after.find('/').unwrap_or(after.len());
            let token = &after[..end];
            let child = match &node.children {
                Children::Leaf => None,
                Children::Sequence(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                Children::Mapping(entries) => {
                    let token = unescape_token(token);
                    entries
                        .iter()
                        .find(|(key, _)| *key == token)
                        .map(|(_, node)| node)
                }
            };
            let Some(child) = child else { break };
            node = child;
            found += 1 + end;
            rest = &after[end..];
        }
        Some((&pointer[..found], node.span))
    }
}

/// The spec's value and, with `spans`, its span index, from one parse (without `spans` the
/// index is empty); `None` when the text needs serde-saphyr (see the module docs). A large
/// source is cut into parts loaded side by side ([`Cut`]) or, when it cannot be cut, parsed on a
/// second thread, which hands the events over in batches while this one builds the value.
#[must_use]
pub fn load(source: &str, spans: bool) -> Option<(Value, SpanIndex)> {
    /// Below this, a thread costs more than it saves.
    const PIPELINE_MIN_BYTES: usize = 256 * 1024;
    const BATCH: usize = 4096;
    if source.len() < PIPELINE_MIN_BYTES {
        return loaded(walk_text(source, || Walk::new(source, true, spans))?);
    }
    if let Some(loaded) = Cut::of(source).and_then(|cut| cut.load(source.len(), spans)) {
        return Some(loaded);
    }
    let mut walk = Walk::new(source, true, spans);
    match scan::scan(source, |event, span| walk.event(event, &span)) {
        Ok(()) => return loaded(walk),
        Err(scan::Stop::Refused) => return None,
        Err(scan::Stop::Declined) => {}
    }
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<_>>(16);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for item in Parser::new_from_str_with_options(source, parser_options()) {
                let failed = item.is_err();
                batch.push(item.ok());
                if failed || batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // After a syntax error, or when the walk stopped early (the send fails),
                    // nothing more is needed.
                    if sender.send(full).is_err() || failed {
                        return;
                    }
                }
            }
            let _ = sender.send(batch);
        });
        // The receiver goes with the walk, so a walk that stops early ends the parser too.
        load_events(source, spans, receiver.into_iter().flatten())
    })
}

/// A large spec's text cut into parts that threads load side by side: the items of its longest
/// sequence under a root key (in an organisation's spec, `federations`) in runs, and the rest,
/// its `head`. Each part is a YAML document of its own, which the parser reads as it reads that
/// part of the whole, because runs are cut only at the lines where an item of the sequence
/// starts:
/// - a line of a run that is neither blank nor a comment is indented past the sequence's dashes,
///   or is an item's dash at their column; such lines are read the same whatever lies to their
///   left (the parser's indentation stack differs only below the dashes' column);
/// - a cut that falls inside a quoted scalar or a flow collection leaves the run before it
///   unterminated, which is a syntax error: the cut is abandoned, and the spec loaded whole;
/// - the head keeps every line of the runs, blanked, so every node in it keeps its line and
///   column; it must read with the key at its line and an empty value, or the cut is abandoned.
#[derive(Debug)]
struct Cut<'s> {
    head: String,
    /// The root key holding the sequence, and its 1-based line.
    key: &'s str,
    key_line: usize,
    /// The column of the sequence's dashes (0-based; 0 for one at its key's column).
    dashes: usize,
    /// The runs of items, each with the number of lines before it in the spec.
    runs: Vec<(&'s str, usize)>,
}

impl<'s> Cut<'s> {
    /// The cut of `source`, its sequence in runs of about equal length; `None` when it has no
    /// sequence of two items or more under a root key, or has carriage returns.
    fn of(source: &'s str) -> Option<Self> {
        /// Runs to share among the threads: enough that they finish together.
        const RUNS: usize = 8;
        // (Line breaks are `\n` alone in the lines scanned below.)
        if source.contains('\r') {
            return None;
        }
        let lines: Vec<&str> = source.split_inclusive('\n').collect();
        let mut starts = Vec::with_capacity(lines.len() + 1);
        let mut offset = 0;
        for line in &lines {
            starts.push(offset);
            offset += line.len();
        }
        starts.push(offset);
        // The longest sequence: its key's line, its first line, its item lines and its end.
        let mut best: Option<(usize, usize, Vec<usize>, usize)> = None;
        let mut i = 0;
        while i < lines.len() {
            if root_key_alone(lines[i]).is_none() {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < lines.len() && blank_or_comment(lines[j]) {
                j += 1;
            }
            let Some(dashes) = lines.get(j).and_then(|line| item_column(line)) else {
                i = j.max(i + 1);
                continue;
            };
            let first = j;
            let mut items = vec![j];
            j += 1;
            while j < lines.len() {
                let line = lines[j];
                let column = line.len() - line.trim_start_matches(' ').len();
                if blank_or_comment(line) || column > dashes {
                } else if item_column(line) == Some(dashes) {
                    items.push(j);
                } else {
                    break;
                }
                j += 1;
            }
            let longer = best
                .as_ref()
                .is_none_or(|(_, f, _, end)| starts[j] - starts[first] > starts[*end] - starts[*f]);
            if items.len() >= 2 && longer {
                best = Some((i, first, items, j));
            }
            i = j;
        }
        let (key_line, first, items, end) = best?;
        // Runs of about equal length, taken by the threads as they finish the one before.
        let length = starts[end] - starts[first];
        let mut cuts = vec![first];
        for k in 1..RUNS {
            let target = starts[first] + length * k / RUNS;
            if let Some(&item) = items.iter().find(|&&item| starts[item] >= target)
                && item > *cuts.last()?
            {
                cuts.push(item);
            }
        }
        cuts.push(end);
        let region = &source[starts[first]..starts[end]];
        let mut head = String::with_capacity(source.len() - region.len() + (end - first));
        head.push_str(&source[..starts[first]]);
        head.extend(std::iter::repeat_n('\n', region.matches('\n').count()));
        head.push_str(&source[starts[end]..]);
        Some(Cut {
            head,
            key: root_key_alone(lines[key_line])?,
            key_line: key_line + 1,
            dashes: item_column(lines[first])?,
            runs: cuts
                .windows(2)
                .map(|pair| (&source[starts[pair[0]]..starts[pair[1]]], pair[0]))
                .collect(),
        })
    }

    /// The spec's value and index (with `spans`) from its parts, `None` when a part does not
    /// load or the head is not the spec around the runs. `len` is the whole spec's length, which
    /// sets the budgets.
    fn load(&self, len: usize, spans: bool) -> Option<(Value, SpanIndex)> {
        let part =
            |&(text, at): &(&str, Offset)| walk_text(text, || Walk::of_part(len, true, spans, at));
        // The head first: usually the longest part (an organisation's declared accounts,
        // projects and roles), so it is taken while the runs can still be shared.
        let parts: Vec<(&str, Offset)> = std::iter::once((self.head.as_str(), Offset::default()))
            .chain(
                self.runs
                    .iter()
                    .map(|&(text, lines)| (text, Offset { lines, depth: 1 })),
            )
            .collect();
        let mut walks = crate::par::map(&parts, 1, part).into_iter();
        let head = walks.next()??;
        let runs: Vec<Walk> = walks.collect::<Option<_>>()?;
        let nodes = runs.iter().map(|w| w.nodes).sum::<usize>() + head.nodes;
        let scalar_bytes = runs.iter().map(|w| w.scalar_bytes).sum::<usize>() + head.scalar_bytes;
        if nodes > head.limit || scalar_bytes > head.limit {
            return None;
        }
        // The head holds the key once, at its line, with nothing under it.
        let mut at = head.root_keys.iter().filter(|(key, _)| key == self.key);
        match (at.next(), at.next()) {
            (Some((_, pos)), None) if pos.line == self.key_line => {}
            _ => return None,
        }
        let (Some(mut value), mut index) = head.finish() else {
            return None;
        };
        let mut items = Vec::new();
        let mut sequence: Option<Node> = None;
        for run in runs {
            let (Some(Value::Array(more)), run_index) = run.finish() else {
                return None;
            };
            items.extend(more);
            match (&mut sequence, run_index.root) {
                (None, root) => sequence = root,
                (
                    Some(Node {
                        children: Children::Sequence(all),
                        ..
                    }),
                    Some(Node {
                        children: Children::Sequence(more),
                        ..
                    }),
                ) => all.extend(more),
                _ => return None,
            }
        }
        match value.get_mut(self.key) {
            Some(slot @ Value::Null) => *slot = Value::Array(items),
            _ => return None,
        }
        if spans {
            let mut sequence = sequence?;
            let Some(Node {
                children: Children::Mapping(entries),
                ..
            }) = &mut index.root
            else {
                return None;
            };
            let (_, node) = entries.iter_mut().find(|(key, _)| key == self.key)?;
            sequence.span.key = node.span.key;
            if self.dashes == 0 {
                sequence.span.value = (self.indentless_start()?, 1);
            }
            *node = sequence;
        }
        Some((value, index))
    }
}

impl Cut<'_> {
    /// Where the parser places a sequence whose dashes sit at its key's column (one without
    /// indentation, which a run read alone does not have): at the first token after its first
    /// dash, on that line. `None` when a comment follows the dash.
    fn indentless_start(&self) -> Option<Pos> {
        let after = self.runs[0].0.get(1..)?;
        let token = after.trim_start_matches(' ');
        (!token.starts_with('#')).then(|| Pos {
            line: self.runs[0].1 + 1,
            column: 2 + after.len() - token.len(),
        })
    }
}

/// The key of a root mapping entry whose value starts on the next lines: `name:` at column 0,
/// then nothing but spaces and a comment.
fn root_key_alone(line: &str) -> Option<&str> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let (key, rest) = line.split_once(':')?;
    let word = key.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let trimmed = rest.trim_start_matches(' ');
    let alone = trimmed.is_empty() || (trimmed.starts_with('#') && rest.starts_with(' '));
    (word && alone).then_some(key)
}

/// Whether `line` holds nothing, or only a comment.
fn blank_or_comment(line: &str) -> bool {
    let rest = line.trim_start_matches(' ');
    rest.is_empty() || rest == "\n" || rest.starts_with('#')
}

/// The column of the dash when `line` starts a block sequence item (`- ` or a lone `-`).
fn item_column(line: &str) -> Option<usize> {
    let rest = line.trim_start_matches(' ');
    let item = rest.starts_with("- ") || rest == "-" || rest == "-\n";
    item.then(|| line.len() - rest.len())
}

/// Feeds `walk` the parser's events of one document (`None` for a syntax error, several
/// documents, or what the walk refuses).
fn walk_events<'s>(
    walk: &mut Walk,
    events: impl Iterator<Item = Option<(Event<'s>, Span)>>,
) -> Flow {
    let mut documents = 0;
    for item in events {
        let (event, span) = item?;
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
            }
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd => {}
            event => {
                walk.event(event, &span)?;
            }
        }
    }
    Some(())
}

/// A walk of `text` (a new one from `walk`) over the fast scanner's events ([`scan`]), or,
/// when the scanner declines the text, over the reference parser's; `None` when the walk
/// refuses an event or the text does not parse.
fn walk_text(text: &str, walk: impl Fn() -> Walk) -> Option<Walk> {
    let mut fast = walk();
    match scan::scan(text, |event, span| fast.event(event, &span)) {
        Ok(()) => Some(fast),
        Err(scan::Stop::Refused) => None,
        Err(scan::Stop::Declined) => {
            let mut reference = walk();
            walk_events(
                &mut reference,
                Parser::new_from_str_with_options(text, parser_options()).map(Result::ok),
            )?;
            Some(reference)
        }
    }
}

/// [`load`] over the parser's events (`None` for a syntax error).
fn load_events<'s>(
    source: &'s str,
    spans: bool,
    events: impl Iterator<Item = Option<(Event<'s>, Span)>>,
) -> Option<(Value, SpanIndex)> {
    let mut walk = Walk::new(source, true, spans);
    walk_events(&mut walk, events)?;
    loaded(walk)
}

/// The value and index of a finished walk of the whole spec; `None` for an empty document.
fn loaded(walk: Walk) -> Option<(Value, SpanIndex)> {
    match walk.finish() {
        (Some(Value::Null) | None, _) => None,
        (Some(value), index) => Some((value, index)),
    }
}

fn parser_options() -> Options {
    let mut options = Options::default();
    options.emit_comments = false;
    options
}

/// serde-saphyr's default nesting budget: deeper documents go to serde-saphyr for its error.
const MAX_DEPTH: usize = 64;

/// A mapping key as read: its text and where it is.
type HeldKey = (String, Option<(Pos, usize)>);

/// A collection in key position, which no JSON object can hold.
struct ComplexKey;

/// A collection being built.
struct Frame {
    node: Node,
    /// The value being built (only when building values).
    value: Option<Value>,
    /// The key this collection is held under in its parent mapping.
    held_as: Option<HeldKey>,
    /// A mapping's key, read and waiting for its value.
    key: Option<HeldKey>,
}

/// The event walker shared by [`SpanIndex::build`] and [`load`]. With `values`, it also builds
/// the value, and breaks on anything outside the plain subset.
struct Walk {
    values: bool,
    /// Whether to record the span tree (without it, only the value is built).
    spans: bool,
    stack: Vec<Frame>,
    root: Option<(Node, Option<Value>)>,
    /// Guards serde-saphyr's budgets would enforce (nodes, scalar bytes: both at most the input's
    /// length), so the fast path never admits what the reference refuses.
    nodes: usize,
    scalar_bytes: usize,
    limit: usize,
    /// Where the text walked sits in the whole spec (see [`Cut`]).
    at: Offset,
    /// The root mapping's keys, with where each is written (a [`Cut`]'s check that its head is
    /// the spec it was cut from).
    root_keys: Vec<(String, Pos)>,
}

/// Where a walked text sits in the whole spec: after `lines` lines, and `depth` collections deep.
#[derive(Debug, Clone, Copy, Default)]
struct Offset {
    lines: usize,
    depth: usize,
}

/// `None` stops the walk: a syntax error, or (when building values) text outside the subset.
type Flow = Option<()>;

impl Walk {
    fn new(source: &str, values: bool, spans: bool) -> Self {
        Walk::of_part(source.len(), values, spans, Offset::default())
    }

    /// A walk over part of a spec of `len` bytes, which sits there `at`.
    fn of_part(len: usize, values: bool, spans: bool, at: Offset) -> Self {
        Walk {
            values,
            spans,
            stack: Vec::new(),
            root: None,
            nodes: 0,
            scalar_bytes: 0,
            limit: len
                .max(250_000)
                .saturating_mul(crate::config::load::expansion().unwrap_or(1)),
            at,
            root_keys: Vec::new(),
        }
    }

    fn finish(mut self) -> (Option<Value>, SpanIndex) {
        // A syntax error may leave collections open: close them so what was read is indexed.
        while !self.stack.is_empty() {
            let _ = self.close();
        }
        match self.root {
            Some((node, value)) => (value, SpanIndex { root: Some(node) }),
            None => (None, SpanIndex::default()),
        }
    }

    fn event(&mut self, event: Event<'_>, span: &Span) -> Flow {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                if self.values && (anchor != 0 || tag.is_some()) {
                    return None;
                }
                self.scalar_bytes += text.len();
                let awaiting_key = matches!(
                    self.stack.last(),
                    Some(Frame {
                        node: Node {
                            children: Children::Mapping(_),
                            ..
                        },
                        key: None,
                        ..
                    })
                );
                if awaiting_key {
                    let key = if self.values {
                        plain_key(text, style)?
                    } else {
                        text.into_owned()
                    };
                    let at = pos(span, self.at.lines);
                    if self.stack.len() == 1 {
                        self.root_keys.push((key.clone(), at));
                    }
                    if let Some(frame) = self.stack.last_mut() {
                        frame.key = Some((key, Some((at, width(span)))));
                    }
                    Some(())
                } else {
                    let value = if self.values {
                        Some(scalar(text, style)?)
                    } else {
                        None
                    };
                    self.attach(leaf(span, self.at.lines), value)
                }
            }
            Event::Alias(_) => {
                if self.values {
                    return None;
                }
                self.attach(leaf(span, self.at.lines), None)
            }
            Event::MappingStart(_, anchor, tag) | Event::SequenceStart(_, anchor, tag)
                if self.values && (anchor != 0 || tag.is_some()) =>
            {
                None
            }
            Event::MappingStart(..) => self.open(span, Children::Mapping(Vec::new())),
            Event::SequenceStart(..) => self.open(span, Children::Sequence(Vec::new())),
            Event::MappingEnd | Event::SequenceEnd => self.close(),
            Event::DocumentEnd if !self.values => None,
            _ => Some(()),
        }
    }

    fn open(&mut self, span: &Span, children: Children) -> Flow {
        if self.values && self.stack.len() + self.at.depth >= MAX_DEPTH {
            return None;
        }
        let value = self.values.then(|| match children {
            Children::Mapping(_) => Value::Object(Map::new()),
            _ => Value::Array(Vec::new()),
        });
        let held_as = self.take_key_for_child().ok()?;
        self.stack.push(Frame {
            node: Node {
                span: NodeSpan {
                    key: None,
                    value: (pos(span, self.at.lines), width(span)),
                },
                children,
            },
            value,
            held_as,
            key: None,
        });
        Some(())
    }

    /// The key a new collection will be stored under: its parent's waiting key, taken out of the
    /// parent so the child frame carries it until it closes. A collection in key position is
    /// recorded under `?`, and refused when building values.
    fn take_key_for_child(&mut self) -> Result<Option<HeldKey>, ComplexKey> {
        let values = self.values;
        match self.stack.last_mut() {
            Some(Frame {
                node:
                    Node {
                        children: Children::Mapping(_),
                        ..
                    },
                key,
                ..
            }) => match key.take() {
                Some(key) => Ok(Some(key)),
                None if values => Err(ComplexKey),
                None => Ok(Some(("?".to_owned(), None))),
            },
            _ => Ok(None),
        }
    }

    fn close(&mut self) -> Flow {
        let Some(frame) = self.stack.pop() else {
            return Some(());
        };
        let mut node = frame.node;
        let value = frame.value;
        // The child of a mapping: put its key back for `attach`.
        if let Some((key, key_span)) = frame.held_as {
            node.span.key = key_span;
            if let Some(parent) = self.stack.last_mut() {
                parent.key = Some((key, key_span));
            }
        }
        self.attach(node, value)
    }

    fn attach(&mut self, mut node: Node, value: Option<Value>) -> Flow {
        self.nodes += 1;
        if self.values && (self.nodes > self.limit || self.scalar_bytes > self.limit) {
            return None;
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some((node, value));
            return Some(());
        };
        match &mut parent.node.children {
            Children::Sequence(items) => {
                if self.spans {
                    items.push(node);
                }
                if let (Some(Value::Array(array)), Some(value)) = (&mut parent.value, value) {
                    array.push(value);
                }
            }
            Children::Mapping(entries) => {
                let (key, key_span) = match parent.key.take() {
                    Some(key) => key,
                    None if self.values => return None,
                    None => ("?".to_owned(), None),
                };
                node.span.key = key_span;
                let (key, duplicate) = match (&mut parent.value, value) {
                    (Some(Value::Object(map)), Some(value)) if self.spans => {
                        let duplicate = map.insert(key.clone(), value).is_some();
                        (Some(key), duplicate)
                    }
                    (Some(Value::Object(map)), Some(value)) => {
                        (None, map.insert(key, value).is_some())
                    }
                    _ => (Some(key), false),
                };
                if duplicate {
                    // A duplicate key: serde-saphyr reports it.
                    return None;
                }
                if let Some(key) = key
                    && self.spans
                {
                    entries.push((key, node));
                }
            }
            Children::Leaf => {}
        }
        Some(())
    }
}

fn leaf(span: &Span, lines: usize) -> Node {
    Node {
        span: NodeSpan {
            key: None,
            value: (pos(span, lines), width(span)),
        },
        children: Children::Leaf,
    }
}

/// A mapping key in the plain subset: quoted, or a plain word that resolves to a string.
fn plain_key(text: std::borrow::Cow<'_, str>, style: ScalarStyle) -> Option<String> {
    match style {
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Some(text.into_owned()),
        ScalarStyle::Plain if plain_string(&text) => Some(text.into_owned()),
        _ => None,
    }
}

/// A plain scalar the fast path is sure a string: it starts with an ASCII letter (no YAML 1.2
/// number does) and is no null or boolean spelling.
fn plain_string(text: &str) -> bool {
    text.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && !matches!(
            text,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        )
}

/// A scalar's value in the plain subset, as serde-saphyr resolves it for an untyped target.
fn scalar(text: std::borrow::Cow<'_, str>, style: ScalarStyle) -> Option<Value> {
    if style != ScalarStyle::Plain {
        return Some(Value::String(text.into_owned()));
    }
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => Some(Value::Null),
        "true" | "True" | "TRUE" => Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => Some(Value::Bool(false)),
        t if plain_string(t) => Some(Value::String(text.into_owned())),
        // Unsigned decimal without a leading zero (serde-saphyr keeps `0123` out of integers).
        t if t.bytes().all(|b| b.is_ascii_digit()) && (t == "0" || !t.starts_with('0')) => t
            .parse::<u64>()
            .ok()
            .map(|n| Value::Number(Number::from(n))),
        _ => None,
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
        assert_eq!(at("/a").map(|s| s.0), Some(Some(p(1, 1))));
        // An unknown child falls back to its nearest ancestor.
        let (found, _) = index.lookup("/a/missing/deeper").unwrap();
        assert_eq!(found, "/a");
        assert_eq!(index.lookup("/list/7").unwrap().0, "/list");
        // The loader's index is the same.
        let (_, loaded) = load(source, true).unwrap();
        for pointer in ["", "/a", "/a/b/1/c", "/a/e", "/list/1/two", "/list/9"] {
            assert_eq!(loaded.lookup(pointer), index.lookup(pointer), "{pointer}");
        }
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

    #[test]
    fn first_of_repeated_keys_is_found() {
        let index = SpanIndex::build("a: 1\nb: 2\na: 3\n");
        assert_eq!(index.lookup("/a").unwrap().1.value.0.line, 1);
    }

    #[test]
    fn aliases_and_complex_keys_are_indexed_where_written() {
        let index = SpanIndex::build("x: &v {y: 1}\nz: *v\n? [k]\n: w\n");
        let z = index.lookup("/z").unwrap();
        assert_eq!((z.0, z.1.value.0.line, z.1.value.0.column), ("/z", 2, 4));
        assert_eq!(index.lookup("/?").unwrap().0, "/?");
    }

    fn reference(source: &str) -> Option<Value> {
        let options = serde_saphyr::options! { strict_booleans: true };
        serde_saphyr::from_str_with_options::<Value>(source, options).ok()
    }

    /// The fast path gives serde-saphyr's value, or steps aside.
    #[test]
    fn loader_agrees_with_serde_saphyr_or_declines() {
        let accepted = [
            "a: 1\nb: [x, 'y', \"z\", 0, 18446744073709551615]\n",
            "a:\n  - b: true\n    c: ~\n    d: null\n    e:\n  - FALSE\n",
            "text: |\n  line one\n  line two\nfolded: >-\n  a\n  b\n",
            "'quoted key': 1\n\"k2\": {}\nempty: []\nplain words: with spaces\n",
            "name: Yes\nother: no\ninf: inf\nnan: NaN\nv: version1.0\n",
            "# comment\nkey: value # trailing\n",
        ];
        for source in accepted {
            let (value, _) = load(source, false).unwrap_or_else(|| panic!("declined: {source:?}"));
            assert_eq!(Some(value), reference(source), "{source:?}");
        }
        let declined = [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "<<: {a: 1}\n",
            "a: 1.5\n",
            "a: -1\n",
            "a: 0123\n",
            "a: 0x1F\n",
            "a: 1e3\n",
            "a: .inf\n",
            "a: +1\n",
            "a: 18446744073709551616\n",
            "a: 1\na: 2\n",
            "a: 1\n---\nb: 2\n",
            "",
            "# only a comment\n",
            "a: [\n",
            "1: one\n",
            "true: yes\n",
            "? [a]\n: b\n",
            "a: 1_000\n",
            "a: .inf-ish\n",
            "a: /path\n",
        ];
        for source in declined {
            assert!(load(source, false).is_none(), "accepted: {source:?}");
        }
        let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
        assert!(load(&deep, true).is_none());
        assert!(load(&format!("{}{}", "[".repeat(60), "]".repeat(60)), true).is_some());
    }

    #[test]
    fn a_large_source_parsed_on_a_second_thread_loads_the_same() {
        use std::fmt::Write as _;
        let mut source = String::from("items:\n");
        let mut n = 0;
        while source.len() < 600 * 1024 {
            let _ = write!(
                source,
                "  - {{name: item-{n}, n: {n}, tags: [a, 'b c'], note: \"x\\ty\"}}\n  - k: |\n      line {n}\n"
            );
            n += 1;
        }
        let (value, index) = load(&source, true).expect("in the plain subset");
        assert_eq!(Some(&value), reference(&source).as_ref());
        let last = format!("/items/{}/k", 2 * n - 1);
        assert_eq!(index.lookup(&last), SpanIndex::build(&source).lookup(&last));
        // A syntax error near the end, an alias in the middle (beyond the first batch of
        // events) and a duplicate key: declined as on the one-thread path.
        assert!(load(&format!("{source}  - [unclosed\n"), true).is_none());
        let middle = source.len() / 2;
        let line = middle + source[middle..].find("\n  - {").unwrap() + 1;
        let aliased = format!("{}  - *nowhere\n{}", &source[..line], &source[line..]);
        assert!(load(&aliased, false).is_none());
        assert!(load(&format!("{source}items: again\n"), true).is_none());
    }

    /// Whether the fast path took `source`; when it did, its value is serde-saphyr's and its
    /// index agrees with [`SpanIndex::build`] on every node.
    fn agrees(source: &str) -> bool {
        let Some((value, index)) = load(source, true) else {
            return false;
        };
        assert_eq!(Some(&value), reference(source).as_ref());
        assert_eq!(load(source, false).map(|(v, _)| v).as_ref(), Some(&value));
        let built = SpanIndex::build(source);
        let mut pointers = vec![String::new()];
        while let Some(pointer) = pointers.pop() {
            assert_eq!(index.lookup(&pointer), built.lookup(&pointer), "{pointer}");
            match value.pointer(&pointer) {
                Some(Value::Object(map)) => {
                    pointers.extend(map.keys().map(|k| format!("{pointer}/{}", escape_token(k))));
                }
                Some(Value::Array(items)) => {
                    pointers.extend((0..items.len()).map(|i| format!("{pointer}/{i}")));
                }
                _ => {}
            }
        }
        true
    }

    /// A spec-like text over 256 KB: a root mapping whose `items` list (dashes at `dashes`) is
    /// written item after item by `item`, between other keys.
    fn long_list(dashes: usize, item: impl Fn(usize, &str) -> String) -> String {
        use std::fmt::Write as _;
        let pad = " ".repeat(dashes);
        let mut source =
            String::from("version: 1\nhead:\n  - {a: 1}\n  - b\nitems:  # the list\n\n");
        let mut n = 0;
        while source.len() < 300 * 1024 {
            let _ = write!(source, "{}", item(n, &pad));
            n += 1;
        }
        source.push_str("tail:\n  k: v\n");
        source
    }

    #[test]
    fn a_long_list_cut_in_two_loads_as_the_whole() {
        for dashes in [0, 2, 4] {
            let source = long_list(dashes, |n, pad| {
                format!(
                    "{pad}- name: item-{n}\n{pad}  from: {{a: b, n: {n}}}\n{pad}  script: |\n{pad}    - not an item\n{pad}    x\n\n# a comment at the margin\n{pad}-   [a, 'b c']\n{pad}-\n{pad}  - nested\n{pad}- \"quoted\"\n"
                )
            });
            let cut = Cut::of(&source).expect("a list to cut");
            assert_eq!((cut.key, cut.key_line), ("items", 5));
            assert!(cut.runs.len() == 8 && cut.runs.iter().all(|run| run.0.len() > 1000));
            assert!(
                cut.load(source.len(), false).is_some(),
                "cut abandoned at {dashes}"
            );
            assert!(agrees(&source), "declined at {dashes}");
        }
    }

    #[test]
    fn a_list_at_its_key_column_is_placed_as_the_parser_places_it() {
        for first in [
            "-\n  - nested\n",
            "-   [a]\n",
            "- 'q'\n",
            "- # c\n  x\n",
            "- k: v\n",
        ] {
            let source = long_list(0, |n, pad| {
                if n == 0 {
                    first.to_owned()
                } else {
                    format!("{pad}- {{n: {n}}}\n")
                }
            });
            let cut = Cut::of(&source).expect("a list to cut");
            // After a comment, the whole is loaded.
            assert_eq!(
                cut.load(source.len(), true).is_some(),
                !first.starts_with("- #")
            );
            assert!(agrees(&source), "{first:?}");
        }
    }

    #[test]
    fn a_cut_that_splits_a_node_is_abandoned() {
        // Every item holds a quoted scalar or a flow collection over lines that look like items,
        // so the cut falls inside one: the whole is loaded instead, or declined, never misread.
        let quoted = long_list(2, |n, pad| format!("{pad}- note: \"a{n}\n{pad}- b\"\n"));
        let flow = long_list(2, |n, pad| format!("{pad}- [a{n},\n{pad}- b]\n"));
        let single = long_list(0, |n, pad| format!("{pad}- 'a{n}\n{pad}- b'\n"));
        for source in [quoted, flow, single] {
            agrees(&source);
        }
        // A second `items` key, a document marker, a tab-indented line and a value on the key's
        // line: never a wrong value.
        let list = long_list(2, |n, pad| format!("{pad}- {n}\n"));
        for source in [
            format!("{list}items: again\n"),
            format!("{list}---\nb: 1\n"),
            list.replace("  - 7\n", "\t- 7\n"),
            list.replace("items:  # the list", "items: []"),
            list.replace("  - 9\n", "   - 9\n"),
            list.replace("  - 11\n", " - 11\n"),
        ] {
            agrees(&source);
        }
    }

    fn values() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let words = prop::sample::select(vec![
            "",
            "a",
            "yes",
            "no",
            "null",
            "~",
            "true",
            "False",
            "0",
            "07",
            "1.5",
            "-1",
            "1e3",
            ".inf",
            "inf",
            "a: b",
            "- x",
            "#c",
            "x #c",
            " lead",
            "trail ",
            "two\nlines",
            "end\n",
            "\ttab",
            "q'uote",
            "d\"q",
            "[x]",
            "{y}",
            "*z",
            "&w",
            "!t",
            "%p",
            "@a",
            "`b",
            "é",
            "\u{2028}",
            "0x1F",
            "<<",
            "?",
            "arn:aws:iam::1:role/r",
        ]);
        let leaf = prop_oneof![
            words.prop_map(|w| Value::String(w.to_owned())),
            any::<u32>().prop_map(|n| Value::Number(n.into())),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec(("[a-z]{1,3}|yes|1|x y|a:b", inner), 0..5)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        /// Whatever serde-saphyr writes, the fast path reads as serde-saphyr does, or declines.
        #[test]
        fn loader_agrees_on_emitted_yaml(value in values()) {
            let text = serde_saphyr::to_string(&value).unwrap();
            if let Some((loaded, _)) = load(&text, true) {
                proptest::prop_assert_eq!(Some(loaded), reference(&text), "{}", text);
            }
        }
    }

    /// Every fixture: the fast path, when it takes the spec, gives serde-saphyr's value, and its
    /// index agrees with [`SpanIndex::build`] on every node.
    #[test]
    fn loader_agrees_on_every_fixture() {
        let mut taken = 0;
        for dir in ["fixtures/valid", "fixtures/invalid"] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let source = std::fs::read_to_string(&path).unwrap();
                let Some((value, index)) = load(&source, true) else {
                    continue;
                };
                taken += 1;
                assert_eq!(Some(&value), reference(&source).as_ref(), "{path:?}");
                assert_eq!(load(&source, false).map(|(v, _)| v).as_ref(), Some(&value));
                let built = SpanIndex::build(&source);
                let mut pointers = vec![String::new()];
                while let Some(pointer) = pointers.pop() {
                    assert_eq!(index.lookup(&pointer), built.lookup(&pointer), "{path:?}");
                    match value.pointer(&pointer) {
                        Some(Value::Object(map)) => pointers
                            .extend(map.keys().map(|k| format!("{pointer}/{}", escape_token(k)))),
                        Some(Value::Array(items)) => {
                            pointers.extend((0..items.len()).map(|i| format!("{pointer}/{i}")));
                        }
                        _ => {}
                    }
                }
            }
        }
        assert!(taken > 40, "the fast path took only {taken} fixtures");
    }
}
