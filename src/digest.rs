//! The trace digest's hash and the canonical bytes it hashes. FNV-1a 64 over a value's serde data model, written
//! as fixed bytes: integers fixed-width little-endian, a string or byte string its length (u64) then its bytes,
//! an `Option` a tag byte, an enum variant its index (u32), a sequence or map its length (u64) or, when serde
//! does not know it (a flattened struct), each entry after a 1 and a 0 at the end; so no two values share bytes. So a
//! digest depends on what the event is (its serde shape, which the history and trace formats already fix), not
//! on `std::hash::Hash`, whose output the standard library does not promise to keep across versions or
//! platforms.

use serde::ser::{self, Serialize};

/// FNV-1a 64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(self) -> u64 {
        self.0
    }

    /// Hashes `value`'s canonical bytes.
    pub fn write_canonical(&mut self, value: &(impl Serialize + ?Sized)) {
        // Only a `Serialize` impl's own `custom` error can fail here, and none of the traced types has one.
        if let Err(e) = value.serialize(Canonical(self)) {
            unreachable!("a traced value failed to serialize: {e}");
        }
    }
}

/// FNV-1a 64 of `bytes`.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h = Fnv64::default();
    h.write(bytes);
    h.finish()
}

#[derive(Debug)]
pub struct DigestError(String);

impl std::fmt::Display for DigestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DigestError {}

impl ser::Error for DigestError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        DigestError(msg.to_string())
    }
}

/// The serializer that writes canonical bytes into the hash.
struct Canonical<'h>(&'h mut Fnv64);

macro_rules! fixed_width {
    ($($name:ident: $ty:ty),* $(,)?) => {
        $(fn $name(self, n: $ty) -> Result<(), DigestError> {
            self.0.write(&n.to_le_bytes());
            Ok(())
        })*
    };
}

impl<'h> ser::Serializer for Canonical<'h> {
    type Ok = ();
    type Error = DigestError;
    type SerializeSeq = Compound<'h>;
    type SerializeTuple = Compound<'h>;
    type SerializeTupleStruct = Compound<'h>;
    type SerializeTupleVariant = Compound<'h>;
    type SerializeMap = Compound<'h>;
    type SerializeStruct = Compound<'h>;
    type SerializeStructVariant = Compound<'h>;

    fixed_width! {
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
    }

    fn serialize_bool(self, v: bool) -> Result<(), DigestError> {
        self.0.write(&[u8::from(v)]);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result<(), DigestError> {
        self.serialize_u32(v.to_bits())
    }
    fn serialize_f64(self, v: f64) -> Result<(), DigestError> {
        self.serialize_u64(v.to_bits())
    }
    fn serialize_char(self, v: char) -> Result<(), DigestError> {
        self.serialize_u32(u32::from(v))
    }
    fn serialize_str(self, v: &str) -> Result<(), DigestError> {
        self.serialize_bytes(v.as_bytes())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), DigestError> {
        self.0.write(&(v.len() as u64).to_le_bytes());
        self.0.write(v);
        Ok(())
    }
    fn serialize_none(self) -> Result<(), DigestError> {
        self.0.write(&[0]);
        Ok(())
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), DigestError> {
        self.0.write(&[1]);
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), DigestError> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), DigestError> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, index: u32, _: &'static str) -> Result<(), DigestError> {
        self.serialize_u32(index)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result<(), DigestError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), DigestError> {
        self.0.write(&index.to_le_bytes());
        value.serialize(self)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'h>, DigestError> {
        Ok(Compound::counted(self.0, len))
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound<'h>, DigestError> {
        Ok(Compound::fixed(self.0))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'h>, DigestError> {
        Ok(Compound::fixed(self.0))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'h>, DigestError> {
        Ok(self.variant(index))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'h>, DigestError> {
        Ok(Compound::counted(self.0, len))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'h>, DigestError> {
        Ok(Compound::fixed(self.0))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Compound<'h>, DigestError> {
        Ok(self.variant(index))
    }
}

/// A sequence, map, tuple or struct being written: `marked` when its length was not known at its start, so each
/// entry is preceded by a 1 and the end is a 0.
struct Compound<'h> {
    h: &'h mut Fnv64,
    marked: bool,
}

impl<'h> Canonical<'h> {
    /// A tuple or struct variant: its index, then its fields.
    fn variant(self, index: u32) -> Compound<'h> {
        self.0.write(&index.to_le_bytes());
        Compound::fixed(self.0)
    }
}

impl<'h> Compound<'h> {
    fn fixed(h: &'h mut Fnv64) -> Self {
        Compound { h, marked: false }
    }

    fn counted(h: &'h mut Fnv64, len: Option<usize>) -> Self {
        match len {
            Some(n) => {
                h.write(&(n as u64).to_le_bytes());
                Compound { h, marked: false }
            }
            None => Compound { h, marked: true },
        }
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), DigestError> {
        if self.marked {
            self.h.write(&[1]);
        }
        value.serialize(Canonical(self.h))
    }

    fn value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), DigestError> {
        value.serialize(Canonical(self.h))
    }

    fn end_mark(self) -> Result<(), DigestError> {
        if self.marked {
            self.h.write(&[0]);
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), DigestError> {
        self.element(value)
    }
    fn end(self) -> Result<(), DigestError> {
        self.end_mark()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = DigestError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), DigestError> {
        self.element(key)
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), DigestError> {
        self.value(value)
    }
    fn end(self) -> Result<(), DigestError> {
        self.end_mark()
    }
}

/// Tuples and structs have a fixed shape: their fields in order, without marks or names.
macro_rules! fixed_shape {
    ($($trait:ident :: $method:ident $(($key:ty))?),* $(,)?) => {
        $(impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = DigestError;
            fn $method<T: ?Sized + Serialize>(&mut self, $(_: $key,)? value: &T) -> Result<(), DigestError> {
                self.element(value)
            }
            fn end(self) -> Result<(), DigestError> {
                Ok(())
            }
        })*
    };
}

fixed_shape! {
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
    SerializeStruct::serialize_field(&'static str),
    SerializeStructVariant::serialize_field(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    fn canonical(value: &impl Serialize) -> u64 {
        let mut h = Fnv64::default();
        h.write_canonical(value);
        h.finish()
    }

    // FNV-1a 64's published test vectors (Fowler, Noll, Vo: the empty string and "a").
    #[test]
    fn fnv1a_64_matches_its_reference_vectors() {
        assert_eq!(fnv64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    // The bytes are fixed, whatever the machine: integers fixed-width little-endian, strings length-prefixed,
    // options tagged, variants by index.
    #[test]
    fn values_hash_as_their_canonical_bytes() {
        assert_eq!(canonical(&0x0102_0304u32), fnv64(&[4, 3, 2, 1]));
        assert_eq!(canonical(&7u64), fnv64(&[7, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(canonical(&-1i16), fnv64(&[0xff, 0xff]));
        assert_eq!(canonical(&"ab"), fnv64(&[2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']));
        assert_eq!(canonical(&Some(1u8)), fnv64(&[1, 1]));
        assert_eq!(canonical(&None::<u8>), fnv64(&[0]));
        assert_eq!(canonical(&vec![1u8, 2]), fnv64(&[2, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
        #[derive(Serialize)]
        enum E {
            A,
            B { x: u8 },
        }
        assert_eq!(canonical(&E::A), fnv64(&[0, 0, 0, 0]));
        assert_eq!(canonical(&E::B { x: 9 }), fnv64(&[1, 0, 0, 0, 9]));
    }

    // Adjacent values cannot run into each other: ("a", "bc") and ("ab", "c") differ, as do [[1], []] and
    // [[], [1]], and a map of unknown length (a flattened struct) from the same entries one level down.
    #[test]
    fn boundaries_are_part_of_the_bytes() {
        assert_ne!(canonical(&("a", "bc")), canonical(&("ab", "c")));
        assert_ne!(canonical(&vec![vec![1u8], vec![]]), canonical(&vec![vec![], vec![1u8]]));
        assert_ne!(canonical(&(Some(0u8), None::<u8>)), canonical(&(None::<u8>, Some(0u8))));
        #[derive(Serialize)]
        struct Inner {
            b: u8,
        }
        #[derive(Serialize)]
        struct Flat {
            a: u8,
            #[serde(flatten)]
            inner: Inner,
        }
        // Serialized as a map of unknown length: each entry after a 1, a 0 at the end.
        let entry = |name: &[u8], v: u8| [&[1, name.len() as u8, 0, 0, 0, 0, 0, 0, 0][..], name, &[v]].concat();
        let bytes = [entry(b"a", 1), entry(b"b", 2), vec![0]].concat();
        assert_eq!(canonical(&Flat { a: 1, inner: Inner { b: 2 } }), fnv64(&bytes));
    }
}
