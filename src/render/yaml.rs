//! A YAML emitter for `serde_json::Value` whose output is byte-identical to
//! `serde_saphyr::to_string` (the serde-saphyr version locked in `Cargo.lock`, default options),
//! at a fraction of its cost.
//!
//! serde-saphyr's serializer is a general `serde::Serializer`: every scalar goes through its
//! state machine, and every string through its quoting heuristics (YAML 1.1 numbers, booleans,
//! timestamps, …). Rendering an organisation's tree spent close to half its time there. The
//! layout it gives a JSON value, though, depends only on where a node sits, which this module
//! tracks with [`Place`]:
//! - two spaces per level; a mapping's keys sit at its depth, and a sequence under a key is not
//!   indented (`key:\n- a`);
//! - a mapping or sequence that is a sequence item starts on the dash's line (`- a: 1`,
//!   `- - 1`), its later lines two columns past the dash;
//! - empty collections are `{}` and `[]`, on the line of their key or dash;
//! - a multi-line string is a literal block scalar (`|`, `|-` when it has no trailing newline,
//!   `|+` when it has several or is only newlines, a `2` indentation indicator when its first
//!   non-empty line starts with a space), its lines two columns past its key or dash, empty lines
//!   without indentation;
//! - a single-line string longer than 80 characters that could be plain is a folded block
//!   scalar (`>-`), wrapped at spaces to 80 columns;
//! - otherwise a string is plain when nothing could read it as something else, else
//!   double-quoted (single-quoted for the lone `.`, `#` and `-`).
//!
//! The trade-off: the quoting rules are long and easy to get subtly wrong, so this module only
//! decides the cases it is certain of (plain words that start with a letter, `/` or `-x`, and
//! quantities like `16Mi`; digit strings; printable-ASCII multi-line and long strings; integers,
//! booleans, null) and hands any other scalar to serde-saphyr alone, re-indenting its block
//! scalar to the position. Where the
//! layout itself would change (a key longer than 1,024 characters becomes an explicit `? key`),
//! the whole document goes to serde-saphyr. Correctness never rests on the fast path being
//! complete; [`coverage`] tells how often it is not, and a differential property test holds
//! the two emitters equal.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

mod typed;

pub use typed::write_serialized;

/// Spaces per nesting level (serde-saphyr's default `indent_step`).
const INDENT: usize = 2;
/// Width at which serde-saphyr folds long strings (its default `folded_wrap_chars`).
const FOLD_WIDTH: usize = 80;
/// The longest key serde-saphyr writes as an implicit `key:` (YAML's 1,024-character limit on
/// implicit keys); a longer one takes the explicit `? key` form, which only serde-saphyr writes
/// here. Checked on the key as written (quotes and escapes included).
const SIMPLE_KEY_MAX_LEN: usize = 1024;

/// `value` as YAML, byte for byte what `serde_saphyr::to_string(value)` returns.
#[must_use]
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Appends `value` as YAML to `out`, byte for byte what `serde_saphyr::to_string(value)`
/// returns.
///
/// # Panics
/// Never: serde-saphyr serializes every `serde_json::Value` (it is only called for shapes this
/// emitter leaves to it).
pub fn write(value: &Value, out: &mut String) {
    let start = out.len();
    let mut emitter = Emitter {
        out: &mut *out,
        splice: None,
    };
    if emitter.node(value, Place::Root).is_err() {
        out.truncate(start);
        out.push_str(&saphyr(value));
    }
}

/// A non-empty mapping's YAML, written once and placed under keys at any depth (see
/// [`write_with`]): a federation's pod spec goes into several patches, each at its own depth.
///
/// What this emitter writes for a node does not depend on the node's column: a block scalar's
/// lines sit one level past their key or dash, folding counts the characters of the text alone,
/// and the only empty lines (in block scalars) carry no indentation. A mapping's lines at the
/// root, every non-empty one moved right by the depth's indentation, are therefore the lines it
/// gets at that depth. (An empty mapping is the exception: `{}` stays on its key's line.)
#[derive(Debug)]
pub struct Block {
    /// The mapping's lines at the root.
    text: String,
    /// How many of them are not empty (each is indented where the block is placed).
    indented: usize,
}

impl Block {
    /// `map` as a block; `None` when it is empty or this emitter would hand it to serde-saphyr.
    #[must_use]
    pub fn of(map: &Map<String, Value>) -> Option<Block> {
        if map.is_empty() {
            return None;
        }
        let mut text = String::new();
        let mut emitter = Emitter {
            out: &mut text,
            splice: None,
        };
        emitter.mapping(map, Place::Root).ok()?;
        Some(Block::new(text))
    }

    /// `value` as a block, written from its `Serialize` impl (see [`write_serialized`]); `None`
    /// when it is not a non-empty mapping, or has a shape only serde-saphyr writes.
    #[must_use]
    pub fn of_serialized<T: serde::Serialize + ?Sized>(value: &T) -> Option<Block> {
        typed::root_mapping(value).map(Block::new)
    }

    fn new(text: String) -> Block {
        // The lines that are not empty: each line break not right after another (or at the
        // start), and a last line without one.
        let bytes = text.as_bytes();
        let ended = memchr::memchr_iter(b'\n', bytes)
            .filter(|&at| at > 0 && bytes[at - 1] != b'\n')
            .count();
        let unended = bytes.last().is_some_and(|&last| last != b'\n');
        Block {
            indented: ended + usize::from(unended),
            text,
        }
    }

    /// How long the block's text is, to size a buffer.
    #[must_use]
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether the block's text is empty (never, for a block [`Block::of`] made).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

/// Appends `value` as YAML to `out` as [`write`] does, with `block` written in place of the node
/// `hole`, a reference into `value` to a mapping held under a key (its content is not read):
/// what [`write`] gives for `value` with `block`'s mapping at `hole`. `false`, with nothing
/// appended, when the rest of `value` is not this emitter's to write (see the module docs).
#[must_use]
pub fn write_with(value: &Value, hole: &Value, block: &Block, out: &mut String) -> bool {
    let start = out.len();
    let mut emitter = Emitter {
        out: &mut *out,
        splice: Some((hole, block)),
    };
    if emitter.node(value, Place::Root).is_err() {
        out.truncate(start);
        return false;
    }
    true
}

/// How many scalars (keys included) of `value` [`write`] formats itself, and how many it hands
/// to serde-saphyr: the measure of how complete the fast path is for some output.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// Every scalar and every mapping key.
    pub scalars: usize,
    /// Those formatted by serde-saphyr.
    pub delegated: usize,
}

/// Counts the scalars of `value` by who formats them (see [`Coverage`]).
#[must_use]
pub fn coverage(value: &Value) -> Coverage {
    fn walk(value: &Value, coverage: &mut Coverage) {
        let delegated = match value {
            Value::Null | Value::Bool(_) => false,
            Value::Number(n) => n.as_u64().is_none() && n.as_i64().is_none(),
            Value::String(s) => matches!(string_style(s), Style::Delegated),
            Value::Array(items) => {
                for item in items {
                    walk(item, coverage);
                }
                return;
            }
            Value::Object(map) => {
                for (key, item) in map {
                    coverage.scalars += 1;
                    coverage.delegated += usize::from(fast_key(key).is_none());
                    walk(item, coverage);
                }
                return;
            }
        };
        coverage.scalars += 1;
        coverage.delegated += usize::from(delegated);
    }
    let mut coverage = Coverage::default();
    walk(value, &mut coverage);
    coverage
}

/// A shape only serde-saphyr writes: the whole document goes to it.
#[derive(Debug)]
struct Unsupported;

/// Where a node is written; block content below it is indented from its depth.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// The document itself, at column 0.
    Root,
    /// The value of a key of the block mapping at `depth`, written right after `key:`.
    Value { depth: usize },
    /// An item of the block sequence at `depth`, written right after `- `.
    Item { depth: usize },
}

impl Place {
    /// What goes between the key or dash and a scalar (or `{}`, `[]`, a block scalar header).
    fn scalar_prefix(self) -> &'static str {
        match self {
            Place::Value { .. } => " ",
            Place::Root | Place::Item { .. } => "",
        }
    }

    /// The column of a block scalar's lines: one level past the key or dash.
    fn block_column(self) -> usize {
        let depth = match self {
            Place::Root => 0,
            Place::Value { depth } | Place::Item { depth } => depth,
        };
        depth * INDENT + INDENT
    }
}

/// How a string is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// As is.
    Plain,
    /// Digits only, in double quotes (they need no escape).
    QuotedDigits,
    /// A literal block scalar (printable ASCII with line breaks).
    Literal,
    /// A folded block scalar (one long printable-ASCII line that could be plain).
    Folded,
    /// Anything else: serde-saphyr decides.
    Delegated,
}

/// The style serde-saphyr gives the string value `s`, when this module is certain of it.
fn string_style(s: &str) -> Style {
    // Guard: the length and character checks mirror serde-saphyr's `serialize_str` (auto block
    // styles) and `is_block_scalar_content_safe`; keep them in step on upgrades.
    let bytes = s.as_bytes();
    if bytes.contains(&b'\n') {
        let printable = bytes
            .iter()
            .all(|&b| b == b'\n' || b == b'\t' || (b' '..=b'~').contains(&b));
        return if printable {
            Style::Literal
        } else {
            Style::Delegated
        };
    }
    if is_digits(s) {
        return Style::QuotedDigits;
    }
    if s.len() <= FOLD_WIDTH {
        return if is_plain_value(s) {
            Style::Plain
        } else {
            Style::Delegated
        };
    }
    // Long: folded when it could be plain once its trailing spaces (which a folded scalar keeps)
    // are set aside. Plain values are ASCII here, so bytes are characters.
    let probe = s.trim_end_matches(' ');
    if is_plain_value(probe) {
        Style::Folded
    } else {
        Style::Delegated
    }
}

/// `1234`: a YAML integer, so serde-saphyr double-quotes it as a string.
fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether serde-saphyr certainly writes the value `s` plain (its `is_plain_value_safe` with
/// YAML 1.1 checks, block context), by a narrower rule: a quantity ([`is_quantity`]), or
/// printable ASCII starting with a letter, `/` or `-` and a letter (so neither a number, a
/// timestamp nor an indicator), not a null, boolean or float spelling, with no `: ` or ` #` (a
/// key or a comment) and neither a trailing space nor a trailing `:`.
fn is_plain_value(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if first.is_ascii_digit() {
        return is_quantity(s);
    }
    let start = match bytes {
        // `-c`: a command-line option. `-inf` and `-.inf` read as floats, `- c` as an item.
        [b'-', second, ..] => second.is_ascii_alphabetic() && !s.eq_ignore_ascii_case("-inf"),
        _ => first.is_ascii_alphabetic() || first == b'/',
    };
    start && last != b' ' && last != b':' && is_plain_text(bytes, b"") && !is_reserved_word(s)
}

/// Whether `bytes` are printable ASCII without `: ` or ` #` (which would start a value or a
/// comment) and without any of `excluded`.
fn is_plain_text(bytes: &[u8], excluded: &[u8]) -> bool {
    let mut previous = b'x';
    for &b in bytes {
        if !(b' '..=b'~').contains(&b)
            || (previous == b':' && b == b' ')
            || (previous == b' ' && b == b'#')
            || excluded.contains(&b)
        {
            return false;
        }
        previous = b;
    }
    true
}

/// `16Mi`, `5m`, `30s`: digits then letters, which no YAML 1.1 number or timestamp matches
/// (an exponent needs digits after the `e`) once a leading `0` (`0x1F`, `0b1`) is ruled out.
fn is_quantity(s: &str) -> bool {
    let letters = s.trim_start_matches(|c: char| c.is_ascii_digit());
    !s.starts_with('0')
        && letters.len() < s.len()
        && !letters.is_empty()
        && letters.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The null, boolean (YAML 1.1 included) and float words that start with a letter; serde-saphyr
/// quotes them in any case.
fn is_reserved_word(s: &str) -> bool {
    s.len() <= 5
        && [
            "null", "true", "false", "nan", "inf", "yes", "y", "on", "no", "n", "off",
        ]
        .iter()
        .any(|word| s.eq_ignore_ascii_case(word))
}

/// The key `s` as written, when this module is certain of it: plain (serde-saphyr's
/// `is_plain_safe`, and `is_plain_value_safe` for flow context, by the same narrower rule as
/// [`is_plain_value`], without `:`, `,`, brackets or braces) or quoted digits.
fn fast_key(s: &str) -> Option<Cow<'_, str>> {
    if s.len() + 2 > SIMPLE_KEY_MAX_LEN {
        return None;
    }
    if is_digits(s) {
        return Some(Cow::Owned(format!("\"{s}\"")));
    }
    let bytes = s.as_bytes();
    let plain = bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.last() != Some(&b' ')
        && is_plain_text(bytes, b":,[]{}")
        && !is_reserved_word(s);
    plain.then_some(Cow::Borrowed(s))
}

/// serde-saphyr's output for `value` at the root.
fn saphyr<T: serde::Serialize>(value: &T) -> String {
    serde_saphyr::to_string(value).expect("serde-saphyr serializes every JSON value")
}

/// Writes one document into `out`.
struct Emitter<'o> {
    out: &'o mut String,
    /// A node written as a [`Block`] instead of from its content (see [`write_with`]).
    splice: Option<(&'o Value, &'o Block)>,
}

impl Emitter<'_> {
    fn node(&mut self, value: &Value, place: Place) -> Result<(), Unsupported> {
        if let Some((hole, block)) = self.splice
            && std::ptr::eq(value, hole)
        {
            return self.block(block, place);
        }
        match value {
            Value::Null => self.scalar("null", place),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, place),
            Value::Number(n) => self.number(n, place)?,
            Value::String(s) => self.string(s, place)?,
            Value::Array(items) => self.sequence(items, place)?,
            Value::Object(map) => self.mapping(map, place)?,
        }
        Ok(())
    }

    /// A [`Block`] under a key: its lines, every non-empty one moved to the mapping's column.
    /// (An organisation's tree splices tens of thousands of blocks: the buffer is sized once,
    /// and the lines found with `memchr`.)
    fn block(&mut self, block: &Block, place: Place) -> Result<(), Unsupported> {
        let Place::Value { depth } = place else {
            return Err(Unsupported);
        };
        let indent = (depth + 1) * INDENT;
        self.out
            .reserve(1 + block.text.len() + block.indented * indent);
        self.out.push('\n');
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', block.text.as_bytes()).map(|end| end + 1);
        for end in ends.chain(std::iter::once(block.text.len())) {
            let line = &block.text[start..end];
            if !line.is_empty() && line != "\n" {
                push_spaces(self.out, indent);
            }
            self.out.push_str(line);
            start = end;
        }
        Ok(())
    }

    fn scalar(&mut self, text: &str, place: Place) {
        self.out.push_str(place.scalar_prefix());
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn number(&mut self, n: &Number, place: Place) -> Result<(), Unsupported> {
        self.out.push_str(place.scalar_prefix());
        // Writing into a `String` cannot fail.
        if let Some(u) = n.as_u64() {
            let _ = writeln!(self.out, "{u}");
        } else if let Some(i) = n.as_i64() {
            let _ = writeln!(self.out, "{i}");
        } else {
            // serde-saphyr formats floats with its own shortest-round-trip writer and YAML
            // fix-ups (`1.0`, `1.0e+20`): let it.
            self.delegated_line(&saphyr(n))?;
        }
        Ok(())
    }

    fn string(&mut self, s: &str, place: Place) -> Result<(), Unsupported> {
        match string_style(s) {
            Style::Plain => self.scalar(s, place),
            Style::QuotedDigits => {
                self.out.push_str(place.scalar_prefix());
                self.out.push('"');
                self.out.push_str(s);
                self.out.push_str("\"\n");
            }
            Style::Literal => {
                self.out.push_str(place.scalar_prefix());
                self.literal(s, place.block_column());
            }
            Style::Folded => {
                self.out.push_str(place.scalar_prefix());
                // Starts with no space (no indentation indicator) and has no line break (strip
                // chomping).
                self.out.push_str(">-\n");
                folded_body(self.out, s, place.block_column());
            }
            Style::Delegated => {
                self.out.push_str(place.scalar_prefix());
                self.delegated_scalar(&saphyr(&s), place.block_column())?;
            }
        }
        Ok(())
    }

    /// A literal block scalar: header, then each line at `column` (empty lines bare).
    fn literal(&mut self, s: &str, column: usize) {
        let content = s.trim_end_matches('\n');
        let trailing = s.len() - content.len();
        self.out.push('|');
        if first_line_leading_spaces(content) > 0 {
            // The indentation indicator: the body is one level (`INDENT`) past its parent.
            self.out.push('2');
        }
        match trailing {
            0 => self.out.push('-'),
            1 if !content.is_empty() => {}
            _ => self.out.push('+'),
        }
        self.out.push('\n');
        if content.is_empty() {
            push_newlines(self.out, trailing);
            return;
        }
        for line in content.split('\n') {
            if !line.is_empty() {
                push_spaces(self.out, column);
                self.out.push_str(line);
            }
            self.out.push('\n');
        }
        push_newlines(self.out, trailing.saturating_sub(1));
    }

    /// Splices serde-saphyr's root output for one scalar: a single line as is, a block scalar
    /// with its lines moved from the root's column to `column`.
    fn delegated_scalar(&mut self, text: &str, column: usize) -> Result<(), Unsupported> {
        if !text.starts_with(['|', '>']) {
            return self.delegated_line(text);
        }
        // At the root, block scalar lines are indented by one level (`INDENT`).
        let root_indent = "  ";
        let mut lines = text.split_inclusive('\n');
        self.out.push_str(lines.next().ok_or(Unsupported)?);
        for line in lines {
            if line == "\n" {
                self.out.push('\n');
            } else {
                let body = line.strip_prefix(root_indent).ok_or(Unsupported)?;
                push_spaces(self.out, column);
                self.out.push_str(body);
            }
        }
        Ok(())
    }

    /// A single-line scalar from serde-saphyr, newline included.
    fn delegated_line(&mut self, text: &str) -> Result<(), Unsupported> {
        match text.strip_suffix('\n') {
            Some(line) if !line.contains('\n') => {
                self.out.push_str(text);
                Ok(())
            }
            _ => Err(Unsupported),
        }
    }

    fn sequence(&mut self, items: &[Value], place: Place) -> Result<(), Unsupported> {
        if items.is_empty() {
            self.scalar("[]", place);
            return Ok(());
        }
        let (depth, mut inline) = match place {
            Place::Root => (0, false),
            // Compact: the dashes sit at the key's column.
            Place::Value { depth } => {
                self.out.push('\n');
                (depth, false)
            }
            Place::Item { depth } => (depth + 1, true),
        };
        for item in items {
            if !inline {
                push_spaces(self.out, depth * INDENT);
            }
            inline = false;
            self.out.push_str("- ");
            self.node(item, Place::Item { depth })?;
        }
        Ok(())
    }

    fn mapping(&mut self, map: &Map<String, Value>, place: Place) -> Result<(), Unsupported> {
        if map.is_empty() {
            self.scalar("{}", place);
            return Ok(());
        }
        let (depth, mut inline) = match place {
            Place::Root => (0, false),
            Place::Value { depth } => {
                self.out.push('\n');
                (depth + 1, false)
            }
            Place::Item { depth } => (depth + 1, true),
        };
        for (key, value) in map {
            if !inline {
                push_spaces(self.out, depth * INDENT);
            }
            inline = false;
            match fast_key(key) {
                Some(text) => self.out.push_str(&text),
                None => self.out.push_str(&delegated_key(key)?),
            }
            self.out.push(':');
            self.node(value, Place::Value { depth })?;
        }
        Ok(())
    }
}

/// The key `key` as serde-saphyr writes it; [`Unsupported`] when too long for `key:`.
fn delegated_key(key: &str) -> Result<String, Unsupported> {
    let mut entry = Map::new();
    entry.insert(key.to_owned(), Value::Null);
    let text = saphyr(&entry);
    match text.strip_suffix(": null\n") {
        Some(key) if !key.starts_with("? ") && !key.contains('\n') => Ok(key.to_owned()),
        _ => Err(Unsupported),
    }
}

/// A folded block scalar's lines at `column`: serde-saphyr's `write_folded_block`, which wraps a
/// line at runs of spaces so no part is longer than 80 characters (a run of N spaces becomes N-1
/// trailing spaces, as the reader folds the line break into one more), and leaves lines that
/// start with a space or have no space to wrap at whole. `s` is printable ASCII.
fn folded_body(out: &mut String, s: &str, column: usize) {
    for line in s.split('\n') {
        if line.is_empty() {
            out.push('\n');
            continue;
        }
        if line.starts_with(' ') {
            push_spaces(out, column);
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut start = 0;
        let mut width = 0;
        // The last run of spaces (start, end) that a break may replace.
        let mut last_run: Option<(usize, usize)> = None;
        let mut run_start: Option<usize> = None;
        for (i, ch) in line.char_indices() {
            // (serde-saphyr also keeps a run followed by a tab from being a break, as the next
            // line would read as more-indented; a string with a tab is never plain, so never
            // folded, and that case cannot arise here.)
            if let Some(run) = run_start
                && ch != ' '
            {
                last_run = Some((run, i));
                run_start = None;
            }
            if ch == ' ' && run_start.is_none() {
                run_start = Some(i);
            }
            width += 1;
            if width > FOLD_WIDTH {
                let Some((run, end)) = last_run else {
                    break;
                };
                push_spaces(out, column);
                out.push_str(&line[start..run]);
                push_spaces(out, end - run - 1);
                out.push('\n');
                start = end;
                width = 0;
                last_run = None;
            }
        }
        push_spaces(out, column);
        out.push_str(&line[start..]);
        out.push('\n');
    }
}

/// Spaces before the first non-empty line of `s` (which need an indentation indicator).
fn first_line_leading_spaces(s: &str) -> usize {
    s.split('\n')
        .find(|line| !line.is_empty())
        .map_or(0, |line| line.len() - line.trim_start_matches(' ').len())
}

fn push_spaces(out: &mut String, mut n: usize) {
    const SPACES: &str = "                                ";
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

fn push_newlines(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n('\n', n));
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use serde_json::{Value, json};

    use super::{Block, Coverage, coverage, to_string, write_with};

    #[test]
    fn a_block_counts_the_lines_it_indents() {
        for text in [
            "",
            "\n",
            "a\n",
            "a\n\nb\n",
            "\n\na\n",
            "a\nb",
            "a\n\n\n  b\n\n",
        ] {
            let lines = text.split_inclusive('\n').filter(|line| *line != "\n");
            assert_eq!(
                Block::new(text.to_owned()).indented,
                lines.count(),
                "{text:?}"
            );
        }
    }

    /// serde-saphyr's output, the reference.
    fn reference(value: &Value) -> String {
        serde_saphyr::to_string(value).unwrap()
    }

    /// Asserts both emitters agree on `value`, and returns the text.
    #[track_caller]
    fn same(value: &Value) -> String {
        let text = to_string(value);
        assert_eq!(text, reference(value), "for {value:?}");
        text
    }

    /// Asserts the YAML of `value` is `expected` (and serde-saphyr's).
    #[track_caller]
    fn yaml(value: &Value, expected: &str) {
        assert_eq!(same(value), expected);
    }

    // ---- layout --------------------------------------------------------------------------

    #[test]
    fn scalars_at_the_root() {
        yaml(&json!(null), "null\n");
        yaml(&json!(true), "true\n");
        yaml(&json!(false), "false\n");
        yaml(&json!("word"), "word\n");
        yaml(&json!({}), "{}\n");
        yaml(&json!([]), "[]\n");
    }

    #[test]
    fn sequences_under_a_key_are_not_indented() {
        yaml(
            &json!({"a": {"b": ["x", "w"], "c": 1}}),
            "a:\n  b:\n  - x\n  - w\n  c: 1\n",
        );
        yaml(&json!(["x", "w"]), "- x\n- w\n");
    }

    #[test]
    fn collections_in_sequences_start_on_the_dash_line() {
        yaml(
            &json!([{"a": 1, "b": {"c": 2}}, ["x", ["w", "z"]], {"d": ["e"]}]),
            "- a: 1\n  b:\n    c: 2\n- - x\n  - - w\n    - z\n- d:\n  - e\n",
        );
    }

    #[test]
    fn empty_collections_stay_on_their_line() {
        yaml(
            &json!({"m": {}, "s": [], "l": [{}, [], [[]]], "k": {"m": {}}}),
            "m: {}\ns: []\nl:\n- {}\n- []\n- - []\nk:\n  m: {}\n",
        );
    }

    // ---- numbers, booleans, null ---------------------------------------------------------

    #[test]
    fn numbers() {
        yaml(
            &json!({"u": u64::MAX, "i": i64::MIN, "z": 0, "m": -1}),
            "u: 18446744073709551615\ni: -9223372036854775808\nz: 0\nm: -1\n",
        );
        // Floats keep a fractional part or an exponent with a sign, so they read back as floats.
        yaml(
            &json!([1.0, -0.0, 0.5, 1e20, 1.5e-7, 123_456_789.125, f64::MAX]),
            "- 1.0\n- -0.0\n- 0.5\n- 1.0e+20\n- 1.5e-7\n- 123456789.125\n- 1.7976931348623157e+308\n",
        );
        yaml(
            &json!({"t": true, "f": false, "nil": null}),
            "t: true\nf: false\nnil: null\n",
        );
    }

    // ---- quoting -------------------------------------------------------------------------

    #[test]
    fn strings_that_read_as_something_else_are_quoted() {
        for s in [
            "",
            "~",
            "null",
            "Null",
            "NULL",
            "true",
            "True",
            "false",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "n",
            "nan",
            ".inf",
            "-.inf",
            "inf",
            "1",
            "123456789012",
            "-1",
            "+1",
            "1.5",
            "1e5",
            "0x1F",
            "0o17",
            "0b101",
            "1_000",
            "12:30",
            "2024-01-01",
            "1.2.3",
            ".5",
            "<<",
            "=",
        ] {
            let text = same(&json!(s));
            assert!(text.starts_with('"'), "{s:?} was written {text:?}");
        }
        yaml(
            &json!({"account": "123456789012"}),
            "account: \"123456789012\"\n",
        );
    }

    #[test]
    fn indicators_and_edges_are_quoted() {
        for s in [
            "- a",
            "-",
            "? a",
            "?",
            ":a",
            "a:",
            "a: b",
            "a #b",
            "#a",
            "[a",
            "]a",
            "{a",
            "}a",
            ",a",
            "&a",
            "*a",
            "!a",
            "|a",
            ">a",
            "'a",
            "\"a",
            "%a",
            "@a",
            "`a",
            " a",
            "a ",
            "---",
            "--- a",
            "...",
            "a\tb",
            "a\rb",
            "\u{7}",
            "\u{85}",
            "\u{2028}",
            "\u{feff}a",
        ] {
            let text = same(&json!(s));
            assert!(text.starts_with(['"', '\'']), "{s:?} was written {text:?}");
        }
        // The lone `.`, `#` and `-` are single-quoted.
        yaml(&json!([".", "#", "-"]), "- '.'\n- '#'\n- '-'\n");
        // Escapes.
        yaml(
            &json!("tab\there \"q\" \\ \u{0} \u{1b} \u{7f} \u{85} \u{2028} \u{feff} \r"),
            "\"tab\\there \\\"q\\\" \\\\ \\0 \\e \\x7F \\N \\L \\uFEFF \\r\"\n",
        );
    }

    #[test]
    fn plain_strings_may_hold_indicators_inside() {
        for s in [
            "a-b",
            "-a",
            "?a",
            "a:b",
            "arn:aws:iam::123456789012:role/x",
            "https://x.io/a?b=c#d",
            "a#b",
            "a, b",
            "a [b] {c}",
            "a & *b !c |d >e 'f' \"g\" %h @i `j`",
            "a b",
            "é",
            "\\",
            "//iam.googleapis.com/projects/1/x",
            "serviceAccount:p.svc.id.goog[ns/ksa]",
        ] {
            assert_eq!(same(&json!(s)), format!("{s}\n"), "{s:?}");
        }
    }

    #[test]
    fn keys_are_quoted_more_often_than_values() {
        yaml(
            &json!({"a:b": 1, "a,b": 2, "a[b]": 3, "123": 4, "true": 5, "app.kubernetes.io/name": 6, "": 7, "a b": 8}),
            "\"a:b\": 1\n\"a,b\": 2\n\"a[b]\": 3\n\"123\": 4\n\"true\": 5\napp.kubernetes.io/name: 6\n\"\": 7\na b: 8\n",
        );
    }

    #[test]
    fn very_long_keys_take_the_explicit_form() {
        let key = "k".repeat(1030);
        let text = same(&json!({ key.clone(): {"a": 1}, "b": [1] }));
        assert!(text.starts_with(&format!("? {key}\n")), "{text}");
        // The limit counts the key as written, quotes included.
        for (key, explicit) in [
            ("k".repeat(1024), false),
            ("k".repeat(1025), true),
            ("1".repeat(1022), false),
            ("1".repeat(1023), true),
        ] {
            let text = same(&json!({ key: 1 }));
            assert_eq!(text.starts_with("? "), explicit, "{text}");
        }
    }

    // ---- block scalars -------------------------------------------------------------------

    #[test]
    fn literal_block_scalars_choose_their_chomping() {
        yaml(&json!({"s": "a\nb"}), "s: |-\n  a\n  b\n");
        yaml(&json!({"s": "a\nb\n"}), "s: |\n  a\n  b\n");
        yaml(&json!({"s": "a\nb\n\n\n"}), "s: |+\n  a\n  b\n\n\n");
        yaml(&json!({"s": "\n"}), "s: |+\n\n");
        yaml(&json!({"s": "\n\n"}), "s: |+\n\n\n");
        // Empty lines carry no indentation.
        yaml(&json!({"s": "a\n\nb\n"}), "s: |\n  a\n\n  b\n");
    }

    #[test]
    fn literal_block_scalars_indent_from_their_key_or_dash() {
        yaml(&json!("a\nb\n"), "|\n  a\n  b\n");
        yaml(&json!(["a\nb"]), "- |-\n  a\n  b\n");
        yaml(&json!([["a\nb"]]), "- - |-\n    a\n    b\n");
        yaml(
            &json!({"x": [{"v": "a\nb\n", "z": {"w": "c\nd"}}]}),
            "x:\n- v: |\n    a\n    b\n  z:\n    w: |-\n      c\n      d\n",
        );
    }

    #[test]
    fn leading_spaces_need_an_indentation_indicator() {
        yaml(&json!({"s": "  a\nb\n"}), "s: |2\n    a\n  b\n");
        yaml(&json!({"s": "\n  a\nb"}), "s: |2-\n\n    a\n  b\n");
        yaml(&json!(["  a\n"]), "- |2\n    a\n");
    }

    #[test]
    fn line_breaks_a_block_scalar_cannot_hold_are_escaped() {
        yaml(&json!({"s": "a\r\nb"}), "s: \"a\\r\\nb\"\n");
        yaml(&json!({"s": "a\u{85}\nb"}), "s: \"a\\N\\nb\"\n");
        yaml(&json!({"s": "a\u{2028}\nb"}), "s: \"a\\L\\nb\"\n");
        // Tabs and non-ASCII text are fine in a block scalar.
        yaml(&json!({"s": "\té字\n"}), "s: |\n  \té字\n");
        assert_eq!(coverage(&json!("\ta\n\tb")).delegated, 0);
    }

    #[test]
    fn long_plain_strings_are_folded() {
        let audience = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/aws-pool/providers/aws-provider";
        yaml(
            &json!({"audience": audience}),
            &format!("audience: >-\n  {audience}\n"),
        );
        let words = "word ".repeat(30);
        let words = words.trim_end();
        let text = same(&json!({"w": [words]}));
        assert!(text.starts_with("w:\n- >-\n  word word"), "{text}");
        assert!(text.lines().all(|line| line.len() <= 2 + 80), "{text}");
        // Trailing spaces survive in a folded scalar; a run of spaces at a break keeps all but one.
        let spaced = json!(format!("{}   {}   ", "a".repeat(79), "b".repeat(10)));
        same(&spaced);
        assert_eq!(coverage(&spaced).delegated, 0);
        // A long string that must be quoted stays on one line.
        let quoted = format!("- {}", "a".repeat(100));
        yaml(&json!(quoted), &format!("\"{quoted}\"\n"));
        // Exactly 80 characters: plain.
        yaml(&json!("a".repeat(80)), &format!("{}\n", "a".repeat(80)));
    }

    // ---- realistic documents -------------------------------------------------------------

    #[test]
    fn a_deployment_patch_with_a_shell_script() {
        let script = "#!/bin/sh\nset -eu\n# Refresh the token.\nwhile :; do\n  token=$(curl -sSf -H 'Metadata-Flavor: Google' \\\n    \"http://metadata/computeMetadata/v1/instance/service-accounts/default/identity?audience=$AUD\")\n  printf '%s' \"$token\" > /var/run/crossfed/token.tmp\n  mv /var/run/crossfed/token.tmp /var/run/crossfed/token\n  sleep 300\ndone\n";
        let patch = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "uploader", "namespace": "data"},
            "spec": {"template": {"spec": {
                "serviceAccountName": "uploader",
                "initContainers": [{
                    "name": "crossfed-token",
                    "image": "curlimages/curl:8.8.0",
                    "restartPolicy": "Always",
                    "command": ["/bin/sh", "-c", script],
                    "env": [{"name": "AUD", "value": "sts.amazonaws.com"}],
                    "volumeMounts": [{"name": "crossfed-token", "mountPath": "/var/run/crossfed"}],
                }],
                "containers": [{
                    "name": "app",
                    "env": [
                        {"name": "AWS_ROLE_ARN", "value": "arn:aws:iam::123456789012:role/uploader"},
                        {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/crossfed/token"},
                        {"name": "AWS_SDK_LOAD_CONFIG", "value": "1"},
                    ],
                    "volumeMounts": [{"name": "crossfed-token", "mountPath": "/var/run/crossfed", "readOnly": true}],
                }],
                "volumes": [{"name": "crossfed-token", "emptyDir": {"medium": "Memory"}}],
            }}},
        });
        let text = same(&patch);
        assert!(
            text.contains("        - -c\n        - |\n          #!/bin/sh\n          set -eu\n"),
            "{text}"
        );
        assert!(text.contains("\n          value: \"1\"\n"), "{text}");
        assert_eq!(coverage(&patch).delegated, 0);
    }

    #[test]
    fn a_configmap_holding_pretty_json() {
        let config = json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/aws/providers/aws",
            "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
            "token_url": "https://sts.googleapis.com/v1/token",
            "credential_source": {"environment_id": "aws1", "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"},
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
        });
        let mut pretty = serde_json::to_string_pretty(&config).unwrap();
        pretty.push('\n');
        let configmap = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "crossfed-gcp", "labels": {"app.kubernetes.io/managed-by": "crossfed"}},
            "data": {"credential-config.json": pretty},
        });
        let text = same(&configmap);
        assert!(
            text.contains(
                "data:\n  credential-config.json: |\n    {\n      \"type\": \"external_account\",\n"
            ),
            "{text}"
        );
        assert_eq!(coverage(&configmap).delegated, 0);
    }

    #[test]
    fn coverage_counts_what_serde_saphyr_formats() {
        assert_eq!(
            coverage(&json!({"a": ["b", "1.5", 1.5, 2, null], "c:": {}})),
            Coverage {
                scalars: 7,
                delegated: 3
            }
        );
    }

    // ---- the differential property -------------------------------------------------------

    /// Pieces of strings that exercise every quoting and block-scalar rule.
    #[rustfmt::skip]
    const NASTY: &[&str] = &[
        "a", "b", "ab", "Z", "x1", "name", "app", "0", "1", "12", "007", "1.5", "1e5", "0x1F",
        "0o7", "0b1", "1_0", "12:30", ":30", "2024-01-01", "2001-12-14t21:59:43.10-05:00", ".",
        "..", "...", "-", "--", "---", "+", "_", "~", "?", ":", "#", "=", "<<", "- ", "? ", ": ",
        " #", " ", "  ", "[", "]", "{", "}", ",", "&", "*", "!", "|", ">", "'", "\"", "%", "@",
        "`", "\\", "/", "//", "\t", "\r", "\n", "\n", "\n\n", "\r\n", "\u{0}", "\u{7}", "\u{1b}",
        "\u{7f}", "\u{85}", "\u{a0}", "\u{2028}", "\u{2029}", "\u{feff}", "\u{fffe}", "é", "字",
        "😀", "null", "Null", "NULL", "true", "True", "false", "FALSE", "yes", "Yes", "no", "on",
        "off", "y", "n", "Y", "N", "nan", "NaN", ".nan", "inf", ".inf", "-.inf", "+.inf",
        "arn:aws:iam::123456789012:role/x", "https://sts.amazonaws.com", "word word ",
        "averyveryverylongidentifierthatgoesonandon", "    ", "-c", "-inf", "-Inf", "-e5", "16Mi",
        "5m", "0x", "0b", "0o", "1e", "1E", "0Mi", "e", "x", "_1",
    ];

    /// Pseudo-random draws (xorshift) from a seed. Strings are built from a kind, a size and a
    /// seed rather than by composing strategies piece by piece, which made a debug-build run
    /// ten times slower; the kind and size still shrink.
    struct Draw(u64);

    impl Draw {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            usize::try_from(self.0 % n as u64).unwrap()
        }

        /// `len` characters from the ASCII `set`.
        fn ascii(&mut self, set: &str, len: usize) -> String {
            (0..len)
                .map(|_| char::from(set.as_bytes()[self.below(set.len())]))
                .collect()
        }

        /// Up to `max` characters from the ASCII `set`.
        fn ascii_up_to(&mut self, set: &str, max: usize) -> String {
            let len = self.below(max + 1);
            self.ascii(set, len)
        }

        fn pieces(&mut self, n: usize) -> String {
            (0..n).map(|_| NASTY[self.below(NASTY.len())]).collect()
        }
    }

    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const DIGITS: &str = "0123456789";

    /// Strings built from [`NASTY`] pieces, multi-line text, identifiers, options, quantities
    /// and number look-alikes, and long runs of words.
    fn nasty_string() -> impl Strategy<Value = String> {
        (0..12u8, 0..20usize, any::<u64>()).prop_map(|(kind, size, seed)| {
            let mut draw = Draw(seed | 1);
            match kind {
                // Mixes of nasty pieces, short ones more often.
                0..=2 => draw.pieces(size % 6),
                // Long ones, to reach the folding width.
                3 => draw.pieces(10 + size),
                // Lines of text, with leading spaces and trailing newlines.
                4 | 5 => {
                    let lines: Vec<String> = (0..=size % 4)
                        .map(|_| draw.ascii_up_to(" ", 3) + &draw.ascii_up_to("abxyz#:{ -", 12))
                        .collect();
                    let newlines = draw.below(4);
                    lines.join("\n") + &"\n".repeat(newlines)
                }
                // Ordinary identifiers.
                6 => draw.ascii(LETTERS, 1) + &draw.ascii_up_to("abcxyzABZ0189._/-", size),
                // Options and quantities (`-c`, `16Mi`), and what only looks like one (`0xBF`,
                // `1e5`, `0o17`, `12:30`: YAML 1.1 numbers).
                7 => {
                    let len = 1 + draw.below(3);
                    draw.ascii_up_to("-", 2)
                        + &draw.ascii("0123abexoBEXO", len)
                        + &draw.ascii_up_to("0123456789aBcDeFmMi_.:-", 4)
                }
                8 => {
                    let (digits, letters) = (1 + draw.below(2), 1 + draw.below(3));
                    draw.ascii_up_to("0", 1)
                        + &draw.ascii(DIGITS, digits)
                        + &draw.ascii(LETTERS, letters)
                }
                9 => {
                    "0".to_owned()
                        + &draw.ascii("xXoObB", 1)
                        + &draw.ascii_up_to("abcdefABCDEF01", 2)
                }
                // Words separated by runs of spaces (or a tab), around the folding width, to
                // exercise wrapping.
                10 => {
                    let mut text = String::new();
                    for _ in 0..2 + size / 2 {
                        let word = 1 + draw.below(30);
                        let run = 1 + draw.below(3);
                        text += &(draw.ascii("abcdefghij", word) + &draw.ascii("  \t", run));
                    }
                    text + &draw.ascii_up_to(" ", 2)
                }
                _ => {
                    let words: Vec<String> = (0..=size)
                        .map(|_| {
                            let len = 1 + draw.below(9);
                            draw.ascii(LOWER, len)
                        })
                        .collect();
                    words.join(" ") + &draw.ascii_up_to(" ", 2)
                }
            }
        })
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::Bool),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => prop_oneof![
                any::<f64>(),
                (-1000i32..1000).prop_map(f64::from),
                Just(1e20),
                Just(1.5e-7),
            ]
            .prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
            4 => nasty_string().prop_map(Value::String),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((nasty_string(), inner), 0..5)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// A value, most often a mapping or sequence of values (as documents are).
    fn document() -> impl Strategy<Value = Value> {
        prop_oneof![
            1 => value(),
            3 => prop::collection::vec((nasty_string(), value()), 1..4)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            1 => prop::collection::vec(value(), 1..4).prop_map(Value::Array),
        ]
    }

    #[test]
    fn equals_serde_saphyr_on_arbitrary_values() {
        let mut config = Config::with_cases(2000);
        config.failure_persistence = None;
        TestRunner::new(config)
            .run(&document(), |value| {
                let text = to_string(&value);
                let expected = reference(&value);
                // Our text reads back as the value wherever serde-saphyr's own does (parsing
                // serde-saphyr's only when ours does not read back).
                let back = |text: &str| serde_saphyr::from_str::<Value>(text).ok();
                if back(&text).as_ref() != Some(&value) {
                    prop_assert_ne!(back(&expected), Some(value));
                }
                prop_assert_eq!(text, expected);
                Ok(())
            })
            .unwrap();
    }

    /// `inner` under `keys` (outermost first), each level with `siblings` before and after it.
    fn nested(inner: Value, keys: &[String], siblings: &[(String, Value)]) -> Value {
        keys.iter().rev().fold(inner, |inner, key| {
            let mut map = serde_json::Map::new();
            for (k, v) in siblings {
                map.insert(format!("{k}-before"), v.clone());
            }
            map.insert(key.clone(), inner);
            for (k, v) in siblings {
                map.insert(format!("{k}-after"), v.clone());
            }
            Value::Object(map)
        })
    }

    #[test]
    fn a_block_written_at_any_depth_is_the_mapping_written_there() {
        let mut config = Config::with_cases(1000);
        config.failure_persistence = None;
        let mapping = prop::collection::vec((nasty_string(), value()), 1..4)
            .prop_map(|entries| entries.into_iter().collect::<serde_json::Map<_, _>>());
        let keys = prop::collection::vec("[a-z]{1,8}", 1..5);
        let siblings = prop::collection::vec(("[a-z]{1,5}", value()), 0..2);
        TestRunner::new(config)
            .run(&(mapping, keys, siblings), |(map, keys, siblings)| {
                let whole = nested(Value::Object(map.clone()), &keys, &siblings);
                let expected = to_string(&whole);
                let shell = nested(Value::Object(serde_json::Map::new()), &keys, &siblings);
                let hole = keys.iter().fold(&shell, |node, key| &node[key.as_str()]);
                let mut text = String::new();
                match Block::of(&map) {
                    Some(block) if write_with(&shell, hole, &block, &mut text) => {
                        prop_assert_eq!(text, expected);
                    }
                    // Only what goes to serde-saphyr whole has no block or no splice.
                    _ => {
                        prop_assert!(text.is_empty());
                        prop_assert_eq!(expected, reference(&whole));
                        prop_assert!(coverage(&whole).delegated > 0);
                    }
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn an_empty_mapping_is_no_block() {
        assert!(Block::of(&serde_json::Map::new()).is_none());
        assert!(Block::of_serialized(&serde_json::Map::new()).is_none());
    }

    #[test]
    fn written_from_serialize_as_from_the_json_value() {
        let mut config = Config::with_cases(2000);
        config.failure_persistence = None;
        TestRunner::new(config)
            .run(&document(), |value| {
                // A JSON value serializes as itself: both paths must write the same text.
                let mut text = String::from("# kept\n");
                super::write_serialized(&value, &mut text);
                prop_assert_eq!(text, format!("# kept\n{}", to_string(&value)));
                let block = |b: Option<Block>| b.map(|b| b.text);
                match &value {
                    Value::Object(map) => {
                        prop_assert_eq!(block(Block::of_serialized(&value)), block(Block::of(map)));
                    }
                    _ => prop_assert!(Block::of_serialized(&value).is_none()),
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn typed_documents_are_written_as_their_json_values() {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Doc<'a> {
            name: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            read_only: Option<bool>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            skipped: Vec<u8>,
            empty: Vec<u8>,
            ports: [u16; 2],
            labels: std::collections::BTreeMap<&'a str, &'a str>,
            nothing: std::collections::BTreeMap<&'a str, &'a str>,
            script: String,
            count: i32,
            tagged: Option<Tag>,
        }
        #[derive(serde::Serialize)]
        enum Tag {
            Unit,
        }
        let labels = [("app", "reader"), ("0", "digits")].into();
        for (read_only, tagged) in [(Some(true), None), (None, Some(Tag::Unit))] {
            let doc = Doc {
                name: "reader",
                read_only,
                skipped: Vec::new(),
                empty: Vec::new(),
                ports: [80, 443],
                labels: std::collections::BTreeMap::clone(&labels),
                nothing: std::collections::BTreeMap::new(),
                script: "set -eu\necho hi\n".to_owned(),
                count: -3,
                tagged,
            };
            let value = serde_json::to_value(&doc).unwrap();
            let mut text = String::new();
            super::write_serialized(&doc, &mut text);
            assert_eq!(text, to_string(&value));
            assert_eq!(
                Block::of_serialized(&doc).map(|b| b.text),
                Block::of(value.as_object().unwrap()).map(|b| b.text)
            );
        }
    }
}
