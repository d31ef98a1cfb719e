//! The JSON Schema: generated from [`crate::config::RawSpec`], and applied to specs.
//!
//! The same schema serves editors (hover docs, completion, red squiggles) and `validate`, so a
//! spec the editor accepts passes this stage and vice versa. We generate draft-07, the draft
//! every YAML editor supports fully, and simplify what schemars emits for `Option<T>` (an
//! `anyOf` with `null`) and for documented enums (a `oneOf` of `const`s): validators report a
//! failed `anyOf`/`oneOf` as "valid under none", which helps nobody, while a plain `$ref` or
//! `enum` yields errors that name the field and the allowed values.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::{Map, Value, json};

use crate::config::RawSpec;
use crate::config::patterns;
use crate::config::span_index::escape_token;
use crate::diag::{Code, Diagnostic};

/// Where the published schema lives, for `$id` and the `yaml-language-server` modeline.
pub const SCHEMA_FILE: &str = "schemas/crossfed.schema.json";

/// The JSON Schema of the spec, exactly as checked in at [`SCHEMA_FILE`].
#[must_use]
pub fn json_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<RawSpec>().to_value();
    simplify(&mut schema);
    schema
}

/// The schema as checked in at [`SCHEMA_FILE`], parsed once: what editors read is what
/// `validate` applies, and reading it costs less than generating it
/// ([`tests::the_published_schema_is_the_generated_one`]).
fn published() -> &'static Value {
    static PUBLISHED: OnceLock<Value> = OnceLock::new();
    PUBLISHED.get_or_init(|| {
        serde_json::from_str(include_str!("../../schemas/crossfed.schema.json"))
            .expect("the checked-in schema is JSON (tested)")
    })
}

/// The schema as pretty JSON with a trailing newline.
///
/// # Panics
/// Never: a `serde_json::Value` always serializes.
#[must_use]
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).expect("a JSON value serializes");
    text.push('\n');
    text
}

fn is_null_schema(value: &Value) -> bool {
    value.get("type") == Some(&Value::String("null".to_owned()))
}

/// Rewrites nullable unions and documented enums into forms with useful errors (see module docs).
fn simplify(node: &mut Value) {
    match node {
        Value::Array(items) => items.iter_mut().for_each(simplify),
        Value::Object(map) => {
            for value in map.values_mut() {
                simplify(value);
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            // schemars' integer formats (`uint32`, ...) are not JSON Schema formats: ajv in strict
            // mode refuses the schema over them. `minimum`/`maximum` already bound the value.
            if map
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| f.starts_with("int") || f.starts_with("uint"))
            {
                map.remove("format");
            }
            // `type: ["string", "null"]` -> `type: "string"`
            if let Some(Value::Array(types)) = map.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if kept.len() == 1 {
                    map.insert("type".to_owned(), kept[0].clone());
                }
            }
            // `anyOf: [X, {type: null}]` -> X merged into this node
            if let Some(Value::Array(any)) = map.get("anyOf")
                && any.len() == 2
                && let Some(other) = any.iter().find(|s| !is_null_schema(s))
                && any.iter().any(is_null_schema)
                && let Value::Object(other) = other.clone()
            {
                map.remove("anyOf");
                for (k, v) in other {
                    map.entry(k).or_insert(v);
                }
            }
            // `oneOf: [{const, description}, ...]` -> `enum` + descriptions folded into the text
            if let Some(Value::Array(one)) = map.get("oneOf")
                && one.iter().all(|s| s.get("const").is_some())
            {
                let values: Vec<Value> = one.iter().map(|s| s["const"].clone()).collect();
                let notes: Vec<String> = one
                    .iter()
                    .filter_map(|s| {
                        let text = s.get("description")?.as_str()?.trim_end_matches('.');
                        Some(format!("`{}`: {text}", s["const"].as_str()?))
                    })
                    .collect();
                map.remove("oneOf");
                map.insert("type".to_owned(), json!("string"));
                map.insert("enum".to_owned(), Value::Array(values));
                if !notes.is_empty() {
                    let base = map
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let sep = if base.is_empty() { "" } else { "\n\n" };
                    map.insert(
                        "description".to_owned(),
                        json!(format!("{base}{sep}{}.", notes.join("; "))),
                    );
                }
            }
        }
        _ => {}
    }
}

fn validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .with_keyword("pattern", |_, pattern, _| {
                Ok(Box::new(LazyPattern::of(
                    pattern.as_str().unwrap_or_default(),
                )))
            })
            .build(published())
            .expect("the generated schema compiles (tested)")
    })
}

/// JSON Schema's `pattern`, its regex compiled on first use and shared by every place of the
/// schema with the same pattern. Compiling every pattern up front cost more than checking a
/// small spec, and a spec reaches only some of them. The patterns are written in the part of
/// regex syntax that ECMA-262 and the `regex` crate read alike (ASCII classes, no `\w`);
/// [`tests::every_pattern_compiles_and_reads_alike_in_ecma_262`] compiles each one.
struct LazyPattern {
    pattern: String,
    regex: std::sync::Arc<Compiled>,
}

/// A pattern's regex, compiled in two steps. The first strings are matched by the regex without
/// its lazy DFA, which compiles in half the time (the DFA needs the pattern's reverse automaton
/// too, and a counted repetition such as `{0,299}` makes both large); a small spec matches a
/// pattern a few times, and compiling was most of what its check cost. From the
/// [`Compiled::LEAN_USES`]th string on, the full regex, which matches several times faster: an
/// organisation's spec matches some patterns tens of thousands of times. Both are the same
/// `regex-automata` meta regex with the same syntax, so they accept the same strings.
#[derive(Default)]
struct Compiled {
    lean: OnceLock<regex_automata::meta::Regex>,
    full: OnceLock<regex_automata::meta::Regex>,
    uses: std::sync::atomic::AtomicUsize,
}

impl Compiled {
    /// About where the full regex's compile time is won back (it saves about a microsecond a
    /// string, and costs a few hundred more to compile for the longest patterns).
    const LEAN_USES: usize = 256;

    fn is_match(&self, pattern: &str, text: &str) -> bool {
        use std::sync::atomic::Ordering;
        let regex = match self.full.get() {
            Some(full) => full,
            None if self.uses.fetch_add(1, Ordering::Relaxed) < Self::LEAN_USES => {
                self.lean.get_or_init(|| {
                    let config = regex_automata::meta::Config::new()
                        .which_captures(regex_automata::nfa::thompson::WhichCaptures::None)
                        .hybrid(false)
                        .dfa(false)
                        .onepass(false);
                    regex_automata::meta::Regex::builder()
                        .configure(config)
                        .build(pattern)
                        .expect("the schema's patterns compile (tested)")
                })
            }
            None => self.full.get_or_init(|| {
                regex_automata::meta::Regex::new(pattern)
                    .expect("the schema's patterns compile (tested)")
            }),
        };
        regex.is_match(text)
    }
}

impl LazyPattern {
    fn of(pattern: &str) -> Self {
        type Cache = std::collections::HashMap<String, std::sync::Arc<Compiled>>;
        static CACHE: OnceLock<std::sync::Mutex<Cache>> = OnceLock::new();
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let regex = cache.entry(pattern.to_owned()).or_default().clone();
        LazyPattern {
            pattern: pattern.to_owned(),
            regex,
        }
    }
}

impl<'i> jsonschema::Keyword<'i> for LazyPattern {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if jsonschema::Keyword::is_valid(self, instance) {
            Ok(())
        } else {
            // The pattern as the message: [`to_diagnostics`] explains it as it does `pattern`.
            Err(ValidationError::custom(self.pattern.clone()))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        instance
            .as_str()
            .is_none_or(|s| self.regex.is_match(&self.pattern, s))
    }
}

/// Checks `instance` against the schema; one diagnostic per problem, none when valid.
#[must_use]
pub fn check(instance: &Value) -> Vec<Diagnostic> {
    let mut errors = validator().iter_errors(instance).peekable();
    if errors.peek().is_none() {
        return Vec::new();
    }
    // The schema as data, for the messages' allowed values and descriptions.
    let schema = published();
    errors
        .flat_map(|error| to_diagnostics(schema, &error))
        .collect()
}

/// Compiles the validator, if not yet done: [`check`] would, but callers may do it earlier on
/// another thread, while the spec is parsed (compiling costs as much as checking a spec of a
/// hundred federations).
pub fn prepare() {
    let _ = validator();
}

/// Follows `pointer` through the schema (properties, items, `$ref`), to find field docs.
fn subschema<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let mut node = resolve(root, root)?;
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        node = if let Some(props) = node.get("properties") {
            resolve(root, props.get(&token)?)?
        } else if let Some(items) = node.get("items") {
            resolve(root, items)?
        } else {
            return None;
        };
    }
    Some(node)
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    // schemars wraps a documented `$ref` as `allOf: [{$ref}]` (draft-07 ignores `$ref` siblings).
    if let Some(Value::Array(all)) = node.get("allOf")
        && let [only] = all.as_slice()
    {
        return resolve(root, only);
    }
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.strip_prefix("#/definitions/")?;
            root.get("definitions")?.get(name)
        }
        None => Some(node),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null (an empty value)".to_owned(),
        Value::Bool(b) => format!("the boolean `{b}`"),
        // YAML may have changed what was written (`011122223333` is read as a decimal
        // `11122223333.0`): say that it read it, the caret shows what was written.
        Value::Number(n) if n.is_f64() => format!("a number, which YAML read as `{n}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{s}`"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn type_name(kind: &TypeKind) -> String {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "string" => "a string".to_owned(),
        "integer" => "a whole number".to_owned(),
        "number" => "a number".to_owned(),
        "boolean" => "`true` or `false`".to_owned(),
        other => other.to_owned(),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(ts) => ts.iter().map(|t| name(&t)).collect::<Vec<_>>().join(" or "),
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a plausible typo.
#[must_use]
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}

fn field_help(schema: &Value, pointer: &str) -> Option<String> {
    let node = subschema(schema, pointer)?;
    node.get("description")
        .and_then(Value::as_str)
        .map(|d| d.replace('\n', " "))
}

/// "`value` is not a valid NAME", or, for an empty string, words rather than empty backticks.
fn not_valid(value: &str, name: &str) -> String {
    if value.is_empty() {
        format!("an empty string is not a valid {name}")
    } else {
        format!("`{value}` is not a valid {name}")
    }
}

fn to_diagnostics(schema: &Value, error: &ValidationError<'_>) -> Vec<Diagnostic> {
    let pointer = error.instance_path().as_str().to_owned();
    let instance = error.instance();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed: Vec<String> = subschema(schema, &pointer)
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            unexpected
                .iter()
                .map(|key| {
                    let at = format!("{pointer}/{}", escape_token(key));
                    let help = match closest(key, allowed.iter().map(String::as_str)) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("the keys allowed here are: {}", allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")),
                    };
                    Diagnostic::error(Code::UnknownField, at, format!("unknown field `{key}`")).help(help).at_key()
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let child = format!("{pointer}/{}", escape_token(name));
            let help = field_help(schema, &child).map_or_else(
                || format!("add `{name}`"),
                |d| format!("add `{name}`: {d}"),
            );
            vec![Diagnostic::error(Code::MissingField, pointer, format!("missing field `{name}`")).help(help)]
        }
        ValidationErrorKind::Type { kind } => {
            let expected = type_name(kind);
            let mut diagnostic = Diagnostic::error(
                Code::WrongType,
                pointer.clone(),
                format!("expected {expected}, found {}", describe(instance)),
            );
            let expects = |name: &str| matches!(kind, TypeKind::Single(t) if t.to_string() == name);
            if expects("string") && instance.is_number() {
                diagnostic = diagnostic.help("quote the value (`\"...\"`): YAML reads unquoted digits as a number, which loses leading zeros and precision");
            } else if expects("boolean") && instance.is_string() {
                diagnostic = diagnostic.help("write `true` or `false`: specs are YAML 1.2, where `yes`, `no`, `on` and `off` are plain strings");
            } else if let Some(d) = field_help(schema, &pointer) {
                diagnostic = diagnostic.help(d);
            }
            vec![diagnostic]
        }
        // `Custom` is [`LazyPattern`]'s, with the pattern as its message.
        ValidationErrorKind::Pattern { pattern } | ValidationErrorKind::Custom { message: pattern, .. } => {
            let value = instance.as_str().unwrap_or_default();
            let (name, help) = patterns::explain(pattern).unwrap_or(("value", "see the schema for the expected format"));
            let help = patterns::length_help(pattern, value).unwrap_or_else(|| help.to_owned());
            vec![Diagnostic::error(Code::InvalidFormat, pointer, not_valid(value, name)).help(help)]
        }
        ValidationErrorKind::Enum { options } => {
            let choices: Vec<&str> = options.as_array().map(|o| o.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            let value = instance.as_str().map_or_else(|| describe(instance), |s| format!("`{s}`"));
            let list = choices.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
            let help = match instance.as_str().and_then(|s| closest(s, choices.iter().copied())) {
                Some(best) => format!("did you mean `{best}`? allowed: {list}"),
                None => format!("use one of {list}"),
            };
            vec![Diagnostic::error(Code::InvalidChoice, pointer, format!("{value} is not an allowed value")).help(help)]
        }
        ValidationErrorKind::Constant { expected_value } => vec![Diagnostic::error(
            Code::InvalidChoice,
            pointer,
            format!("expected `{expected_value}`, found {}", describe(instance)),
        )],
        ValidationErrorKind::Minimum { .. } | ValidationErrorKind::Maximum { .. } if pointer == "/version" => vec![
            Diagnostic::error(Code::InvalidChoice, pointer, format!("unsupported spec version `{instance}`"))
                .help("this version of crossfed reads `version: 1`; check the spec was written for it"),
        ],
        ValidationErrorKind::Minimum { limit } | ValidationErrorKind::ExclusiveMinimum { limit } => {
            vec![range_error(schema, &pointer, instance, &format!("at least {limit}"))]
        }
        ValidationErrorKind::Maximum { limit } | ValidationErrorKind::ExclusiveMaximum { limit } => {
            vec![range_error(schema, &pointer, instance, &format!("at most {limit}"))]
        }
        ValidationErrorKind::MinLength { limit } => {
            vec![range_error(schema, &pointer, instance, &format!("at least {limit} characters long"))]
        }
        ValidationErrorKind::MaxLength { limit } => {
            vec![range_error(schema, &pointer, instance, &format!("at most {limit} characters long"))]
        }
        ValidationErrorKind::MinItems { limit } => {
            vec![range_error(schema, &pointer, instance, &format!("a list of at least {limit} items"))]
        }
        ValidationErrorKind::MaxItems { limit } => {
            vec![range_error(schema, &pointer, instance, &format!("a list of at most {limit} items"))]
        }
        ValidationErrorKind::UniqueItems => vec![Diagnostic::error(Code::DuplicateItem, pointer, "the list holds the same item twice").help("remove the repeated item")],
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // Report the branch that came closest (fewest errors): usually the intended one.
            context
                .iter()
                .min_by_key(|errors| errors.len())
                .map(|errors| errors.iter().flat_map(|e| to_diagnostics(schema, e)).collect())
                .unwrap_or_default()
        }
        other => vec![Diagnostic::error(Code::InvalidFormat, pointer, format!("{other:?}"))],
    }
}

fn range_error(schema: &Value, pointer: &str, instance: &Value, bound: &str) -> Diagnostic {
    let shown = match instance {
        Value::String(s) => format!("`{s}`"),
        Value::Number(n) => format!("`{n}`"),
        other => describe(other),
    };
    let diagnostic = Diagnostic::error(
        Code::OutOfRange,
        pointer,
        format!("{shown} is out of range: must be {bound}"),
    );
    match field_help(schema, pointer) {
        Some(d) => diagnostic.help(d),
        None => diagnostic,
    }
}

/// Used by tests and `schema`: the schema object's keys in a fixed order.
#[must_use]
pub fn definitions(schema: &Value) -> Map<String, Value> {
    schema
        .get("definitions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string value of `keyword` anywhere in `node`.
    fn keyword_values(node: &Value, keyword: &str, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(v)) = map.get(keyword) {
                    out.push(v.clone());
                }
                map.values().for_each(|v| keyword_values(v, keyword, out));
            }
            Value::Array(items) => items.iter().for_each(|v| keyword_values(v, keyword, out)),
            _ => {}
        }
    }

    #[test]
    fn the_schema_uses_only_standard_formats() {
        // ajv in strict mode refuses a schema with a format it does not know (`uint32`).
        let mut found = Vec::new();
        keyword_values(&super::json_schema(), "format", &mut found);
        let standard = [
            "date-time",
            "email",
            "hostname",
            "uri",
            "uri-reference",
            "regex",
        ];
        assert!(
            found.iter().all(|f| standard.contains(&f.as_str())),
            "{found:?}"
        );
    }

    #[test]
    fn schema_compiles_and_has_no_unions_left() {
        let schema = json_schema();
        let text = schema.to_string();
        assert!(
            !text.contains("\"anyOf\""),
            "nullable unions are simplified"
        );
        assert!(
            !text.contains("\"oneOf\""),
            "documented enums are simplified"
        );
        jsonschema::draft7::new(&schema).unwrap();
    }

    #[test]
    fn the_published_schema_is_the_generated_one() {
        assert!(
            *published() == json_schema(),
            "schemas/crossfed.schema.json is stale: run `cargo run -- schema -o schemas/crossfed.schema.json`"
        );
    }

    #[test]
    fn every_pattern_compiles_and_reads_alike_in_ecma_262() {
        let mut found = Vec::new();
        keyword_values(&json_schema(), "pattern", &mut found);
        assert!(found.len() > 20, "{found:?}");
        for pattern in &found {
            regex_automata::meta::Regex::new(pattern).unwrap();
            // `\w`, `\d`, `\s` and `.` mean more in the regex crate (Unicode) than in ECMA-262
            // (ASCII), so an editor and `validate` would disagree.
            for shorthand in [r"\w", r"\d", r"\s", r"\b"] {
                assert!(!pattern.contains(shorthand), "{pattern} uses {shorthand}");
            }
            let unescaped_dot = pattern
                .split(r"\.")
                .any(|part| part.contains('.') && !part.contains('['));
            assert!(!unescaped_dot, "{pattern} has a `.` outside a class");
        }
    }

    #[test]
    fn a_pattern_matches_alike_before_and_after_its_full_regex_is_compiled() {
        fn examples(node: &Value, out: &mut Vec<String>) {
            match node {
                Value::Object(map) => {
                    if let Some(Value::Array(items)) = map.get("examples") {
                        out.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    map.values().for_each(|v| examples(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| examples(v, out)),
                _ => {}
            }
        }
        let mut patterns = Vec::new();
        keyword_values(&json_schema(), "pattern", &mut patterns);
        let mut found = Vec::new();
        examples(&json_schema(), &mut found);
        // Every example, and near misses: cut, grown, case and punctuation changed.
        let mut texts: Vec<String> = vec![String::new(), " ".into(), "a".repeat(400)];
        for example in &found {
            texts.push(example.clone());
            texts.push(example.chars().take(example.len() / 2).collect());
            texts.push(format!("{example}x"));
            texts.push(format!("-{example}"));
            texts.push(example.to_uppercase());
            texts.push(example.replace('-', "_").replace(':', "/"));
            texts.push(example.repeat(5));
        }
        let mut accepted = 0;
        for pattern in &patterns {
            // Lean answers: each run of texts from a regex used fewer times than the switch.
            let mut lean = Vec::new();
            for run in texts.chunks(Compiled::LEAN_USES) {
                let compiled = Compiled::default();
                lean.extend(run.iter().map(|t| compiled.is_match(pattern, t)));
                assert!(compiled.full.get().is_none(), "{pattern}: lean at first");
            }
            let compiled = Compiled::default();
            while compiled.full.get().is_none() {
                compiled.is_match(pattern, "");
            }
            let full = regex_automata::meta::Regex::new(pattern).unwrap();
            for (text, lean) in texts.iter().zip(lean) {
                assert_eq!(lean, full.is_match(text), "{pattern} on {text:?}");
                assert_eq!(
                    compiled.is_match(pattern, text),
                    lean,
                    "{pattern} on {text:?}"
                );
                accepted += usize::from(lean);
            }
        }
        assert!(accepted > 20, "the examples match their patterns");
    }

    #[test]
    fn a_pattern_is_checked_lazily_and_reported_as_a_pattern() {
        // Two fields with the same pattern; one value breaks it.
        let spec: Value = serde_json::from_str(
            r#"{"version": 1, "aws": {"accounts": [{"id": "12345678901x", "name": "a"}]}}"#,
        )
        .unwrap();
        let diagnostics = check(&spec);
        let found: Vec<_> = diagnostics
            .iter()
            .filter(|d| d.code == Code::InvalidFormat)
            .collect();
        assert_eq!(found.len(), 1, "{diagnostics:?}");
        assert_eq!(found[0].pointer, "/aws/accounts/0/id");
        assert!(
            found[0].message.contains("12345678901x"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn every_property_has_a_description_and_objects_are_closed() {
        let schema = json_schema();
        let defs = definitions(&schema);
        let mut seen = 0;
        for (name, node) in
            std::iter::once(("(root)", &schema)).chain(defs.iter().map(|(k, v)| (k.as_str(), v)))
        {
            let Some(props) = node.get("properties").and_then(Value::as_object) else {
                continue;
            };
            assert_eq!(
                node.get("additionalProperties"),
                Some(&Value::Bool(false)),
                "{name} is closed"
            );
            for (prop, spec) in props {
                assert!(
                    spec.get("description").is_some(),
                    "{name}.{prop} has a description"
                );
                seen += 1;
            }
        }
        assert!(seen > 40);
    }

    #[test]
    fn every_pattern_has_an_explanation() {
        let mut found = Vec::new();
        keyword_values(&json_schema(), "pattern", &mut found);
        assert!(!found.is_empty());
        for pattern in found {
            assert!(
                patterns::explain(&pattern).is_some(),
                "no explanation for {pattern}"
            );
        }
    }

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(
            closest("serviceAcount", ["serviceAccount", "namespace"]),
            Some("serviceAccount")
        );
        assert_eq!(closest("zzz", ["serviceAccount", "namespace"]), None);
    }
}
