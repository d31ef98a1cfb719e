//! The emitter's layout, driven by `serde::Serialize` instead of a `serde_json::Value`: typed
//! documents (a federation's pod spec) are written without first being built as a JSON value,
//! whose every key is an allocated string hashed into an index map.
//!
//! [`Writer`] is a `serde::Serializer` that places each node as [`Emitter`] does: the same
//! [`Place`] rules for mappings and sequences, and the emitter's own code for every scalar and
//! key. What [`Emitter`] leaves to serde-saphyr, or a shape JSON has no equivalent for (an enum
//! variant with data, a collection of unknown length, a key that is not a string), is
//! [`Unsupported`]: the caller then writes the document's JSON value as [`write`] would, so
//! the output never depends on this path being complete. A differential property test holds
//! [`write_serialized`] equal to [`write`] on the value's JSON form.

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::{Emitter, INDENT, Place, Unsupported, delegated_key, fast_key, push_spaces, write};

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a shape only serde-saphyr writes")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

/// Appends `value` as YAML to `out`: byte for byte what [`write`] appends for
/// `serde_json::to_value(value)`.
///
/// # Panics
/// When `value` cannot be represented as JSON (a map with non-string keys): a crossfed bug.
pub fn write_serialized<T: Serialize + ?Sized>(value: &T, out: &mut String) {
    let start = out.len();
    if value
        .serialize(Writer {
            out: &mut *out,
            place: Place::Root,
            root_mapping: None,
        })
        .is_err()
    {
        out.truncate(start);
        let value = serde_json::to_value(value).expect("a document crossfed writes is JSON");
        write(&value, out);
    }
}

/// The text of `value` written at the root when it is a non-empty mapping, for a
/// [`super::Block`]; `None` for anything else, or a shape [`Writer`] does not write.
pub(super) fn root_mapping<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut text = String::new();
    let mapping = std::cell::Cell::new(false);
    value
        .serialize(Writer {
            out: &mut text,
            place: Place::Root,
            root_mapping: Some(&mapping),
        })
        .ok()?;
    mapping.get().then_some(text)
}

/// Writes one node at `place` into `out`.
pub(super) struct Writer<'o> {
    out: &'o mut String,
    place: Place,
    /// Set when the node is a non-empty mapping (asked for the root only).
    root_mapping: Option<&'o std::cell::Cell<bool>>,
}

impl Writer<'_> {
    fn emitter(&mut self) -> Emitter<'_> {
        Emitter {
            out: &mut *self.out,
            splice: None,
        }
    }

    /// Where a collection's entries go: their depth, and whether the first one continues the
    /// line of a dash. Mirrors [`Emitter::mapping`] and [`Emitter::sequence`].
    fn open(&mut self, mapping: bool) -> (usize, bool) {
        match self.place {
            Place::Root => (0, false),
            Place::Value { depth } => {
                self.out.push('\n');
                (depth + usize::from(mapping), false)
            }
            Place::Item { depth } => (depth + 1, true),
        }
    }
}

/// A mapping or struct being written: its entries at `depth`, `left` of them still to come
/// (its layout was chosen for the length it announced, so it must keep to it).
pub(super) struct Entries<'o> {
    out: &'o mut String,
    depth: usize,
    inline: bool,
    left: usize,
}

impl Entries<'_> {
    fn key(&mut self, key: &str) -> Result<(), Unsupported> {
        take_one(&mut self.left)?;
        if !self.inline {
            push_spaces(self.out, self.depth * INDENT);
        }
        self.inline = false;
        match fast_key(key) {
            Some(text) => self.out.push_str(&text),
            None => self.out.push_str(&delegated_key(key)?),
        }
        self.out.push(':');
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Writer {
            out: &mut *self.out,
            place: Place::Value { depth: self.depth },
            root_mapping: None,
        })
    }
}

/// A sequence being written: its items at `depth`, `left` of them still to come.
pub(super) struct Items<'o> {
    out: &'o mut String,
    depth: usize,
    inline: bool,
    left: usize,
}

/// Counts one more entry or item against those announced.
fn take_one(left: &mut usize) -> Result<(), Unsupported> {
    *left = left.checked_sub(1).ok_or(Unsupported)?;
    Ok(())
}

impl<'o> ser::Serializer for Writer<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Items<'o>;
    type SerializeTuple = Items<'o>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Entries<'o>;
    type SerializeStruct = Entries<'o>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_bool(mut self, v: bool) -> Result<(), Unsupported> {
        let place = self.place;
        self.emitter()
            .scalar(if v { "true" } else { "false" }, place);
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(mut self, v: i64) -> Result<(), Unsupported> {
        let place = self.place;
        self.emitter().number(&v.into(), place)
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(mut self, v: u64) -> Result<(), Unsupported> {
        let place = self.place;
        self.emitter().number(&v.into(), place)
    }

    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_f64(mut self, v: f64) -> Result<(), Unsupported> {
        // As `serde_json::to_value`: a float JSON cannot hold (NaN, infinities) is null.
        let place = self.place;
        match serde_json::Number::from_f64(v) {
            Some(n) => self.emitter().number(&n, place),
            None => self.serialize_unit(),
        }
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(mut self, v: &str) -> Result<(), Unsupported> {
        let place = self.place;
        self.emitter().string(v, place)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(mut self) -> Result<(), Unsupported> {
        let place = self.place;
        self.emitter().scalar("null", place);
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        // As `serde_json::to_value`: the variant's name.
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_seq(mut self, len: Option<usize>) -> Result<Items<'o>, Unsupported> {
        // The layout of an empty sequence differs (`[]` on its key's line): it must be known
        // before the first item.
        let left = len.ok_or(Unsupported)?;
        let (depth, inline) = if left == 0 {
            let place = self.place;
            self.emitter().scalar("[]", place);
            (0, false)
        } else {
            // A sequence under a key is not indented: its dashes sit at the key's column.
            self.open(false)
        };
        Ok(Items {
            out: self.out,
            depth,
            inline,
            left,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Items<'o>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        Err(Unsupported)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }

    fn serialize_map(mut self, len: Option<usize>) -> Result<Entries<'o>, Unsupported> {
        // As for sequences: `{}` stays on its key's line.
        let left = len.ok_or(Unsupported)?;
        let (depth, inline) = if left == 0 {
            let place = self.place;
            self.emitter().scalar("{}", place);
            (0, false)
        } else {
            if let Some(mapping) = self.root_mapping {
                mapping.set(true);
            }
            self.open(true)
        };
        Ok(Entries {
            out: self.out,
            depth,
            inline,
            left,
        })
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Entries<'o>, Unsupported> {
        // `len` counts the fields written: serde's derive leaves out those it skips.
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

impl Items<'_> {
    fn finish(&self) -> Result<(), Unsupported> {
        if self.left == 0 {
            Ok(())
        } else {
            Err(Unsupported)
        }
    }
}

impl Entries<'_> {
    fn finish(&self) -> Result<(), Unsupported> {
        if self.left == 0 {
            Ok(())
        } else {
            Err(Unsupported)
        }
    }
}

impl ser::SerializeSeq for Items<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        take_one(&mut self.left)?;
        if !self.inline {
            push_spaces(self.out, self.depth * INDENT);
        }
        self.inline = false;
        self.out.push_str("- ");
        value.serialize(Writer {
            out: &mut *self.out,
            place: Place::Item { depth: self.depth },
            root_mapping: None,
        })
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeTuple for Items<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        // A key is a string, as JSON requires (structs, the usual documents, name their fields
        // without this).
        match serde_json::to_value(key) {
            Ok(serde_json::Value::String(key)) => self.key(&key),
            _ => Err(Unsupported),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}

impl ser::SerializeStruct for Entries<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.key(key)?;
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish()
    }
}
