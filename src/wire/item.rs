//! An item on the wire: one resource's output type ([`Out`]) with what the include
//! loader attached to it (included relations, their `_next_cursor`s, `counts`),
//! serialized straight to bytes in that order: the resource's own fields first, then the
//! attachments as they were attached. No `serde_json::Map` is built per item.

use serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeStruct, Serializer};
use serde_json::Value as Json;

use crate::store::page::SortOrder;
use crate::wire::repr::{
    CommentOut, FollowOut, PostFavoriteOut, PostOut, ProfileOut, RoleAssignmentOut, RoleOut,
    TagNameOut, TagOut, UserAssignmentOut, UserFavoriteOut, UserOut,
};

macro_rules! outputs {
    ($($variant:ident($ty:ty)),+ $(,)?) => {
        /// The output type of one resource.
        #[derive(Clone)]
        pub enum Out {
            $($variant($ty),)+
        }
        $(impl From<$ty> for Out {
            fn from(out: $ty) -> Self {
                Out::$variant(out)
            }
        })+
        impl Serialize for Out {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Out::$variant(out) => out.serialize(s),)+
                }
            }
        }
    };
}

outputs!(
    User(UserOut),
    Profile(ProfileOut),
    Post(PostOut),
    Comment(CommentOut),
    Role(RoleOut),
    UserAssignment(UserAssignmentOut),
    RoleAssignment(RoleAssignmentOut),
    Tag(TagOut),
    Follow(FollowOut),
    UserFavorite(UserFavoriteOut),
    PostFavorite(PostFavoriteOut),
    TagName(TagNameOut),
);

impl Out {
    /// An integer field by name: the keys the include loader looks children up by.
    pub fn int(&self, field: &str) -> Option<i64> {
        match (self, field) {
            (Out::User(u), "id") => Some(u.id),
            (Out::Profile(p), "id") => Some(p.id),
            (Out::Profile(p), "user_id") => Some(p.user_id),
            (Out::Post(p), "id") => Some(p.id),
            (Out::Post(p), "author_id") => Some(p.author_id),
            (Out::Comment(c), "id") => Some(c.id),
            (Out::Comment(c), "post_id") => Some(c.post_id),
            (Out::Comment(c), "author_id") => Some(c.author_id),
            (Out::Role(r), "id") => Some(r.id),
            (Out::Tag(t), "id") => Some(t.id),
            _ => None,
        }
    }

    /// The user this output is or holds (a follow's, a post favorite's, a role
    /// assignment's), where `viewer=true` marks `following`.
    pub fn user_mut(&mut self) -> Option<&mut UserOut> {
        match self {
            Out::User(u) => Some(u),
            Out::Follow(f) => Some(&mut f.user),
            Out::PostFavorite(f) => Some(&mut f.user),
            Out::RoleAssignment(a) => Some(&mut a.user),
            _ => None,
        }
    }

    /// The post this output is or holds (a user favorite's), where `viewer=true` marks
    /// `favorited`.
    pub fn post_mut(&mut self) -> Option<&mut PostOut> {
        match self {
            Out::Post(p) => Some(p),
            Out::UserFavorite(f) => Some(&mut f.post),
            _ => None,
        }
    }
}

/// Something attached to an item under a name.
#[derive(Clone)]
enum Attached {
    /// An included to-one relation: an object or `null`.
    One(Option<Box<Item>>),
    /// An included to-many relation, and beside it `<name>_next_cursor`.
    Many {
        items: Vec<Item>,
        next_cursor: Option<String>,
    },
    /// A post's tag names, in the author's order: never cut, so no cursor.
    Names(Vec<String>),
    /// `counts`, one entry per counted relation.
    Counts(Vec<(&'static str, i64)>),
}

/// A resource with its attachments.
#[derive(Clone)]
pub struct Item {
    pub out: Out,
    attached: Vec<(&'static str, Attached)>,
}

impl<T: Into<Out>> From<T> for Item {
    fn from(out: T) -> Self {
        Item {
            out: out.into(),
            attached: Vec::new(),
        }
    }
}

impl Item {
    /// Attaches an included to-one relation.
    pub fn attach_one(&mut self, name: &'static str, one: Option<Item>) {
        self.attached.push((name, Attached::One(one.map(Box::new))));
    }

    /// Attaches an included to-many relation and its `_next_cursor`.
    pub fn attach_many(
        &mut self,
        name: &'static str,
        items: Vec<Item>,
        next_cursor: Option<String>,
    ) {
        self.attached
            .push((name, Attached::Many { items, next_cursor }));
    }

    /// Attaches a list of names that is never cut (a post's `tags`).
    pub fn attach_names(&mut self, name: &'static str, names: Vec<String>) {
        self.attached.push((name, Attached::Names(names)));
    }

    /// Calls `f` on this item's output and on every output attached below it.
    pub fn for_each_out(&mut self, f: &mut impl FnMut(&mut Out)) {
        f(&mut self.out);
        for (_, attached) in &mut self.attached {
            match attached {
                Attached::One(Some(one)) => one.for_each_out(f),
                Attached::Many { items, .. } => {
                    for item in items {
                        item.for_each_out(f);
                    }
                }
                Attached::One(None) | Attached::Names(_) | Attached::Counts(_) => {}
            }
        }
    }

    /// The objects this item holds: itself and every object included below it (tag
    /// names and counts are not objects). What the response ceiling counts (SPEC §6).
    pub fn objects(&self) -> u64 {
        1 + self
            .attached
            .iter()
            .map(|(_, attached)| match attached {
                Attached::One(Some(one)) => one.objects(),
                Attached::Many { items, .. } => items.iter().map(Item::objects).sum(),
                Attached::One(None) | Attached::Names(_) | Attached::Counts(_) => 0,
            })
            .sum::<u64>()
    }

    /// Adds `counts.<name>`.
    pub fn add_count(&mut self, name: &'static str, n: i64) {
        for (key, attached) in &mut self.attached {
            if let ("counts", Attached::Counts(counts)) = (*key, attached) {
                counts.push((name, n));
                return;
            }
        }
        self.attached
            .push(("counts", Attached::Counts(vec![(name, n)])));
    }

    /// The included to-one relation `name`, when it was attached and found.
    pub fn one(&self, name: &str) -> Option<&Item> {
        self.attached
            .iter()
            .find_map(|(key, attached)| match attached {
                Attached::One(Some(one)) if *key == name => Some(&**one),
                _ => None,
            })
    }

    /// Takes the names attached as `name` (empty when none were).
    pub fn take_names(&mut self, name: &str) -> Vec<String> {
        self.attached
            .iter_mut()
            .find_map(|(key, attached)| match attached {
                Attached::Names(names) if *key == name => Some(std::mem::take(names)),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// `counts.<name>`, when it was counted.
    pub fn count(&self, name: &str) -> Option<i64> {
        self.attached
            .iter()
            .find_map(|(key, attached)| match attached {
                Attached::Counts(counts) if *key == "counts" => counts
                    .iter()
                    .find_map(|(counted, n)| (*counted == name).then_some(*n)),
                _ => None,
            })
    }

    /// The resource's own fields as JSON, where cursors read their sort keys.
    pub fn fields(&self) -> Json {
        serde_json::to_value(&self.out).unwrap_or(Json::Null)
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.out.serialize(FieldsInto(&mut map))?;
        for (name, attached) in &self.attached {
            match attached {
                Attached::One(one) => map.serialize_entry(name, one)?,
                Attached::Many { items, next_cursor } => {
                    map.serialize_entry(name, items)?;
                    map.serialize_entry(&format!("{name}_next_cursor"), next_cursor)?;
                }
                Attached::Names(names) => map.serialize_entry(name, names)?,
                Attached::Counts(counts) => map.serialize_entry(name, &Counts(counts))?,
            }
        }
        map.end()
    }
}

/// The body of every list (SPEC §3 "Lists"): `items`, `next_cursor` and, when asked,
/// `total`.
#[derive(serde::Serialize)]
pub struct Page {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

impl Page {
    /// A page of `items` in `order`; when more follow, `next_cursor` continues after the
    /// last one.
    pub fn new(items: Vec<Item>, has_more: bool, total: Option<u64>, order: &SortOrder) -> Self {
        let next_cursor = match (has_more, items.last()) {
            (true, Some(last)) => Some(order.cursor_after(&last.fields())),
            _ => None,
        };
        Page {
            items,
            next_cursor,
            total,
        }
    }
}

struct Counts<'a>(&'a [(&'static str, i64)]);

impl Serialize for Counts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, n) in self.0 {
            map.serialize_entry(name, n)?;
        }
        map.end()
    }
}

/// Serializes a struct's fields as entries of an enclosing map (what `#[serde(flatten)]`
/// does, for the output types that have no attachment field of their own).
struct FieldsInto<'a, M>(&'a mut M);

fn only_structs<E: ser::Error>() -> E {
    E::custom("only a struct's fields can be written into an item")
}

macro_rules! refuse {
    ($($method:ident($($arg:ty),*)),+ $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), M::Error> {
            Err(only_structs())
        })+
    };
}

impl<'a, M: SerializeMap> Serializer for FieldsInto<'a, M> {
    type Ok = ();
    type Error = M::Error;
    type SerializeSeq = Impossible<(), M::Error>;
    type SerializeTuple = Impossible<(), M::Error>;
    type SerializeTupleStruct = Impossible<(), M::Error>;
    type SerializeTupleVariant = Impossible<(), M::Error>;
    type SerializeMap = Impossible<(), M::Error>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), M::Error>;

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), M::Error> {
        Err(only_structs())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), M::Error> {
        Err(only_structs())
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), M::Error> {
        Err(only_structs())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, M::Error> {
        Err(only_structs())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, M::Error> {
        Err(only_structs())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, M::Error> {
        Err(only_structs())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, M::Error> {
        Err(only_structs())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, M::Error> {
        Err(only_structs())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, M::Error> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, M::Error> {
        Err(only_structs())
    }
}

impl<M: SerializeMap> SerializeStruct for FieldsInto<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        self.0.serialize_entry(key, value)
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: i64) -> PostOut {
        PostOut {
            id,
            author_id: 7,
            title: "t\"".into(),
            slug: "t".into(),
            description: String::new(),
            content: String::new(),
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            updated_at: "2026-01-01T00:00:00.000000Z".into(),
            favorited: None,
        }
    }

    #[test]
    fn an_item_writes_its_fields_then_its_attachments_in_order() {
        let mut item = Item::from(post(1));
        item.add_count("comments", 3);
        item.attach_one("author", None);
        item.attach_many("comments", vec![Item::from(post(2))], Some("c".into()));
        item.add_count("favorites", 0);
        let mut expected = serde_json::to_value(post(1)).unwrap();
        let map = expected.as_object_mut().unwrap();
        map.insert(
            "counts".into(),
            serde_json::json!({"comments": 3, "favorites": 0}),
        );
        map.insert("author".into(), Json::Null);
        map.insert("comments".into(), serde_json::json!([post(2)]));
        map.insert("comments_next_cursor".into(), Json::from("c"));
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }
}
