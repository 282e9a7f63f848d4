//! The set of models an app routes to, checked once at start-up and indexed so that finding the
//! model for a key costs the same with 200 models as with 1.
//!
//! ```
//! # extern crate dynastream_core as dynastream;
//! use dynastream::registry::{ModelSpec, Registry};
//! use dynastream::key::Pattern;
//!
//! let spec = |e: &str, pk: &str, sk: &str| ModelSpec::new(e, "PK", "SK", Pattern::parse(pk).unwrap(), Pattern::parse(sk).unwrap());
//! let reg = Registry::new(vec![
//!     spec("UserProfile", "USER#{owner}", "PROFILE"),
//!     spec("Story", "USER#{owner}#STORY#{story_id}", "STORY#{story_id}"),
//! ]).unwrap();
//! assert_eq!(reg.find("PK", "SK", "USER#jane#STORY#1", "STORY#1").map(|i| reg.spec(i).entity()), Some("Story"));
//! assert_eq!(reg.find("PK", "SK", "USER#jane", "PROFILE").map(|i| reg.spec(i).entity()), Some("UserProfile"));
//!
//! // Two models that could match the same key are refused, with an example key.
//! let err = Registry::new(vec![spec("A", "T#{x}", "{y}"), spec("B", "T#{x}", "S#{z}")]).unwrap_err();
//! assert!(err.to_string().contains("A and B overlap"), "{err}");
//! ```

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use crate::error::{Overlap, RegistryError};
use crate::key::{KeyClass, Pattern, Segment};
use crate::model::{FieldSpec, IndexSpec, Model};

/// What the registry knows of a model: its name, key attribute names and patterns.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    entity: Cow<'static, str>,
    pk_attr: Cow<'static, str>,
    sk_attr: Cow<'static, str>,
    pk: Pattern,
    sk: Pattern,
    schema_version: Cow<'static, str>,
    schema_version_attr: Cow<'static, str>,
    fields: Cow<'static, [FieldSpec]>,
    indexes: &'static [IndexSpec],
}

impl ModelSpec {
    /// A spec built at run time.
    pub fn new(entity: &str, pk_attr: &str, sk_attr: &str, pk: Pattern, sk: Pattern) -> Self {
        ModelSpec {
            entity: entity.to_string().into(),
            pk_attr: pk_attr.to_string().into(),
            sk_attr: sk_attr.to_string().into(),
            pk,
            sk,
            schema_version: Cow::Borrowed(""),
            schema_version_attr: Cow::Borrowed(crate::decode::SCHEMA_VERSION_ATTR),
            fields: Cow::Borrowed(&[]),
            indexes: &[],
        }
    }

    /// The partition key attribute name (`PK` unless the model names another).
    pub fn pk_attr(&self) -> &str {
        &self.pk_attr
    }

    /// The sort key attribute name; `""` for a model without a sort key.
    pub fn sk_attr(&self) -> &str {
        &self.sk_attr
    }

    /// The partition key pattern.
    pub fn pk(&self) -> &Pattern {
        &self.pk
    }

    /// The sort key pattern.
    pub fn sk(&self) -> &Pattern {
        &self.sk
    }

    /// The attribute holding the writer's schema version (`schema_version` unless the model
    /// names another).
    pub fn schema_version_attr(&self) -> &str {
        &self.schema_version_attr
    }

    /// The spec of a derived model.
    pub fn of<M: Model>() -> Self {
        ModelSpec {
            entity: Cow::Borrowed(M::ENTITY),
            pk_attr: Cow::Borrowed(M::PK_ATTR),
            sk_attr: Cow::Borrowed(M::SK_ATTR),
            pk: M::pk_pattern().clone(),
            sk: M::sk_pattern().clone(),
            schema_version: Cow::Borrowed(M::SCHEMA_VERSION),
            schema_version_attr: Cow::Borrowed(M::SCHEMA_VERSION_ATTR),
            fields: Cow::Borrowed(M::FIELDS),
            indexes: M::indexes(),
        }
    }

    /// The model's secondary indexes (`#[dynastream(gsi(...))]`).
    pub fn indexes(&self) -> &[IndexSpec] {
        self.indexes
    }

    /// The entity name.
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// The model's schema version (empty for a spec built at run time).
    pub fn schema_version(&self) -> &str {
        &self.schema_version
    }

    /// The model's stored fields (empty for a spec built at run time).
    pub fn fields(&self) -> &[FieldSpec] {
        &self.fields
    }
}

/// A byte trie over literal prefixes, built a byte at a time when the registry is made, then
/// frozen into a [`Radix`] for lookups. Walking a key visits every value whose literal is a
/// prefix of the key, in O(length of the longest literal) whatever the number of values.
#[derive(Debug, Default)]
struct Trie<T> {
    nodes: Vec<Node<T>>,
}

#[derive(Debug)]
struct Node<T> {
    edges: Vec<(u8, u32)>,
    value: Option<T>,
}

impl<T> Trie<T> {
    fn new() -> Self {
        Trie {
            nodes: vec![Node {
                edges: Vec::new(),
                value: None,
            }],
        }
    }

    fn slot(&mut self, literal: &str) -> &mut Option<T> {
        let mut at = 0usize;
        for &b in literal.as_bytes() {
            let edges = &self.nodes[at].edges;
            at = match edges.binary_search_by_key(&b, |e| e.0) {
                Ok(i) => edges[i].1 as usize,
                Err(i) => {
                    let next = self.nodes.len();
                    self.nodes.push(Node {
                        edges: Vec::new(),
                        value: None,
                    });
                    self.nodes[at].edges.insert(i, (b, next as u32));
                    next
                }
            };
        }
        &mut self.nodes[at].value
    }

    /// Visits every value whose literal is a prefix of `key`, shortest first, a byte at a
    /// time. The lookups use [`Radix::walk`]; this is the reference it is tested against.
    #[cfg(test)]
    fn walk<'t>(&'t self, key: &str, mut f: impl FnMut(&'t T)) {
        let mut at = 0usize;
        let bytes = key.as_bytes();
        let mut i = 0;
        loop {
            let node = &self.nodes[at];
            if let Some(v) = &node.value {
                f(v);
            }
            let Some(&b) = bytes.get(i) else { return };
            match node.edges.binary_search_by_key(&b, |e| e.0) {
                Ok(k) => at = node.edges[k].1 as usize,
                Err(_) => return,
            }
            i += 1;
        }
    }

    /// The trie for lookups: each run of nodes without a value and with one edge becomes one
    /// node's label, so a walk takes a step per branch or value, not per byte. `f` converts
    /// the values.
    fn freeze<U>(mut self, mut f: impl FnMut(T) -> U) -> Radix<U> {
        let mut out = Vec::with_capacity(self.nodes.len());
        self.freeze_at(0, &mut f, &mut out);
        Radix { nodes: out }
    }

    /// Freezes the subtree at `at` into `out`; returns its index there. Each node is reached
    /// once (a trie is a tree), so its value and edges are moved out.
    fn freeze_at<U>(
        &mut self,
        mut at: usize,
        f: &mut impl FnMut(T) -> U,
        out: &mut Vec<RadixNode<U>>,
    ) -> u32 {
        let mut label = Vec::new();
        while let Some(node) = self.nodes.get(at) {
            match node.edges.as_slice() {
                [(b, next)] if node.value.is_none() => {
                    label.push(*b);
                    at = *next as usize;
                }
                _ => break,
            }
        }
        let (value, edges) = match self.nodes.get_mut(at) {
            Some(node) => (node.value.take(), std::mem::take(&mut node.edges)),
            None => (None, Vec::new()),
        };
        let index = out.len();
        out.push(RadixNode {
            label: label.into(),
            edges: Box::default(),
            value: value.map(&mut *f),
        });
        let edges: Box<[(u8, u32)]> = edges
            .into_iter()
            .map(|(b, next)| (b, self.freeze_at(next as usize, f, out)))
            .collect();
        out[index].edges = edges;
        index as u32
    }
}

/// A [`Trie`] frozen for lookups (path-compressed).
#[derive(Debug)]
struct Radix<T> {
    nodes: Vec<RadixNode<T>>,
}

#[derive(Debug)]
struct RadixNode<T> {
    /// The bytes a key must have, after the edge byte that led here, to reach this node.
    label: Box<[u8]>,
    /// The next byte after the label, and the node it leads to; sorted by byte.
    edges: Box<[(u8, u32)]>,
    value: Option<T>,
}

impl<T> Radix<T> {
    /// Visits every value whose literal is a prefix of `key`, shortest first.
    fn walk<'t>(&'t self, key: &str, mut f: impl FnMut(&'t T)) {
        let bytes = key.as_bytes();
        let mut i = 0;
        let mut at = 0usize;
        while let Some(node) = self.nodes.get(at) {
            // Where the literals branch at every byte the labels are empty: no comparison.
            let label = &node.label[..];
            if !label.is_empty() {
                match bytes.get(i..) {
                    Some(rest) if crate::bytes::starts_with(rest, label) => i += label.len(),
                    _ => return,
                }
            }
            if let Some(v) = &node.value {
                f(v);
            }
            let Some(&b) = bytes.get(i) else { return };
            match node.edges.binary_search_by_key(&b, |e| e.0) {
                Ok(k) => at = node.edges[k].1 as usize,
                Err(_) => return,
            }
            i += 1;
        }
    }
}

/// Models sharing key attribute names, indexed by PK leading literal, then SK leading literal.
#[derive(Debug)]
struct Group {
    pk_attr: Cow<'static, str>,
    sk_attr: Cow<'static, str>,
    index: Radix<Radix<Vec<u32>>>,
}

/// The registered models, validated: no two can match the same (PK, SK).
#[derive(Debug)]
pub struct Registry {
    specs: Vec<ModelSpec>,
    groups: Vec<Group>,
}

impl Registry {
    /// Checks the models and builds the index. Refuses duplicate entity names and any two
    /// models (with the same key attribute names) that can match the same (PK, SK), naming
    /// both and an example key. The check treats each placeholder as any text its type can
    /// render (integers: digits), so it may refuse sets that differ only in custom parsing.
    pub fn new(specs: Vec<ModelSpec>) -> Result<Self, RegistryError> {
        let mut seen = HashMap::new();
        for s in &specs {
            if seen.insert(s.entity.clone(), ()).is_some() {
                return Err(RegistryError::DuplicateEntity(s.entity.to_string()));
            }
        }
        // Built as byte tries, then frozen for lookups.
        let mut building: Vec<(&ModelSpec, Trie<Trie<Vec<u32>>>)> = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let g = match building
                .iter()
                .position(|(first, _)| first.pk_attr == s.pk_attr && first.sk_attr == s.sk_attr)
            {
                Some(g) => g,
                None => {
                    building.push((s, Trie::new()));
                    building.len() - 1
                }
            };
            let sk_trie = building[g]
                .1
                .slot(s.pk.leading_literal())
                .get_or_insert_with(Trie::new);
            sk_trie
                .slot(s.sk.leading_literal())
                .get_or_insert_with(Vec::new)
                .push(i as u32);
        }
        let groups = building
            .into_iter()
            .map(|(first, index)| Group {
                pk_attr: first.pk_attr.clone(),
                sk_attr: first.sk_attr.clone(),
                index: index.freeze(|sk_trie| sk_trie.freeze(|models| models)),
            })
            .collect();
        for (i, a) in specs.iter().enumerate() {
            for b in &specs[i + 1..] {
                if a.pk_attr != b.pk_attr || a.sk_attr != b.sk_attr {
                    continue;
                }
                if let (Some(pk), Some(sk)) = (common_key(&a.pk, &b.pk), common_key(&a.sk, &b.sk)) {
                    return Err(RegistryError::Overlap(Box::new(Overlap {
                        first: a.entity.to_string(),
                        second: b.entity.to_string(),
                        pk_attr: a.pk_attr.to_string(),
                        sk_attr: a.sk_attr.to_string(),
                        pk,
                        sk,
                    })));
                }
            }
        }
        Ok(Registry { specs, groups })
    }

    /// The models, in registration order.
    pub fn specs(&self) -> &[ModelSpec] {
        &self.specs
    }

    /// The model at `index`.
    pub fn spec(&self, index: usize) -> &ModelSpec {
        &self.specs[index]
    }

    /// The distinct (PK attribute, SK attribute) pairs the models use.
    pub fn key_attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.groups
            .iter()
            .map(|g| (g.pk_attr.as_ref(), g.sk_attr.as_ref()))
    }

    /// The table's key attribute names as the models declare them: their one pair, or `PK` /
    /// `SK` when no model is registered. Models that use different pairs cannot tell one table's
    /// keys: [`RegistryError::MixedKeyAttributes`] names the pairs.
    pub fn table_key_attributes(&self) -> Result<(&str, &str), RegistryError> {
        let mut pairs = self.key_attributes();
        let Some(first) = pairs.next() else {
            return Ok(("PK", "SK"));
        };
        let others: Vec<(&str, &str)> = pairs.filter(|p| *p != first).collect();
        if others.is_empty() {
            return Ok(first);
        }
        Err(RegistryError::MixedKeyAttributes(
            std::iter::once(first)
                .chain(others)
                .map(|(p, s)| format!("{p}/{s}"))
                .collect::<Vec<_>>()
                .join(", "),
        ))
    }

    /// Calls `f` with each model (index) whose PK and SK leading literals are prefixes of `pk`
    /// and `sk`: the only models that can match. Cost: the literals' length, not the number of
    /// models.
    pub(crate) fn candidates(
        &self,
        pk_attr: &str,
        sk_attr: &str,
        pk: &str,
        sk: &str,
        mut f: impl FnMut(usize),
    ) {
        for g in &self.groups {
            if !crate::bytes::same(g.pk_attr.as_bytes(), pk_attr.as_bytes())
                || !crate::bytes::same(g.sk_attr.as_bytes(), sk_attr.as_bytes())
            {
                continue;
            }
            g.index.walk(pk, |sk_trie| {
                sk_trie.walk(sk, |models| models.iter().for_each(|&m| f(m as usize)))
            });
        }
    }

    /// The model whose patterns match (`pk`, `sk`) structurally, if any. (The router also
    /// parses the captured text into the key's field types.)
    pub fn find(&self, pk_attr: &str, sk_attr: &str, pk: &str, sk: &str) -> Option<usize> {
        let mut found = None;
        let mut buf: [&str; 16] = [""; 16];
        self.candidates(pk_attr, sk_attr, pk, sk, |m| {
            if found.is_some() {
                return;
            }
            let s = &self.specs[m];
            let (np, ns) = (s.pk.field_count(), s.sk.field_count());
            let fits = if np <= 16 && ns <= 16 {
                s.pk.captures(pk, &mut buf[..np]) && s.sk.captures(sk, &mut buf[..ns])
            } else {
                s.pk.captures(pk, &mut vec![""; np]) && s.sk.captures(sk, &mut vec![""; ns])
            };
            if fits {
                found = Some(m);
            }
        });
        found
    }
}

// ---------------------------------------------------------------------------------------------
// Overlap: is there a string both patterns accept? Each pattern is an automaton over characters
// (literal characters, and placeholders accepting one or more characters of their class); the
// product automaton is searched breadth-first, which also yields the shortest example.

#[derive(Clone, Copy)]
enum Atom {
    Char(char),
    Field {
        class: KeyClass,
        width: Option<usize>,
    },
}

fn atoms(p: &Pattern) -> Vec<Atom> {
    let mut out = Vec::new();
    for seg in p.segments() {
        match seg {
            Segment::Literal(l) => out.extend(l.chars().map(Atom::Char)),
            Segment::Field { width, class, .. } => out.push(Atom::Field {
                class: if width.is_some() {
                    KeyClass::Integer
                } else {
                    *class
                },
                width: *width,
            }),
        }
    }
    out
}

fn accepts(class: KeyClass, width: Option<usize>, c: char) -> bool {
    match (class, width) {
        (_, Some(_)) => c.is_ascii_digit(),
        (KeyClass::Integer, None) => c.is_ascii_digit() || c == '-',
        (KeyClass::Any, None) => true,
    }
}

/// State: (atom index, characters consumed by the current placeholder).
type State = (usize, usize);

/// A state of the product automaton.
type Pair = (State, State);

/// Every state reachable without consuming input: an unpadded placeholder that has consumed at
/// least one character may end.
fn closure(atoms: &[Atom], s: State) -> Vec<State> {
    let mut out = vec![s];
    let mut cur = s;
    while let Some(Atom::Field { width: None, .. }) = atoms.get(cur.0) {
        if cur.1 == 0 {
            break;
        }
        cur = (cur.0 + 1, 0);
        out.push(cur);
    }
    out
}

fn step(atoms: &[Atom], s: State, c: char) -> Option<State> {
    match atoms.get(s.0)? {
        Atom::Char(x) => (*x == c).then_some((s.0 + 1, 0)),
        Atom::Field { class, width } => {
            if !accepts(*class, *width, c) {
                return None;
            }
            match width {
                Some(w) if s.1 + 1 == *w => Some((s.0 + 1, 0)),
                Some(_) => Some((s.0, s.1 + 1)),
                None => Some((s.0, 1)),
            }
        }
    }
}

/// The shortest string both patterns can match, if any.
fn common_key(a: &Pattern, b: &Pattern) -> Option<String> {
    let (aa, bb) = (atoms(a), atoms(b));
    // Alphabet: every literal character, plus one stand-in each for "a digit" and "anything
    // else" that no literal uses (all such characters behave alike).
    let mut alphabet: Vec<char> = aa
        .iter()
        .chain(&bb)
        .filter_map(|x| {
            if let Atom::Char(c) = x {
                Some(*c)
            } else {
                None
            }
        })
        .collect();
    alphabet.push('-');
    alphabet.push(('0'..='9').find(|c| !alphabet.contains(c)).unwrap_or('0'));
    alphabet.push(
        ['x', 'y', 'z', 'q', '_', '~']
            .into_iter()
            .find(|c| !alphabet.contains(c))
            .unwrap_or('\u{e000}'),
    );
    alphabet.sort_unstable();
    alphabet.dedup();

    let accepting = |atoms: &[Atom], s: State| closure(atoms, s).iter().any(|t| t.0 == atoms.len());
    let mut parent: HashMap<Pair, Option<(Pair, char)>> = HashMap::new();
    let mut queue = VecDeque::new();
    for sa in closure(&aa, (0, 0)) {
        for sb in closure(&bb, (0, 0)) {
            parent.insert((sa, sb), None);
            queue.push_back((sa, sb));
        }
    }
    while let Some((sa, sb)) = queue.pop_front() {
        if accepting(&aa, sa) && accepting(&bb, sb) {
            let mut chars = Vec::new();
            let mut at = (sa, sb);
            while let Some(Some((prev, c))) = parent.get(&at) {
                chars.push(*c);
                at = *prev;
            }
            return Some(chars.into_iter().rev().collect());
        }
        for &c in &alphabet {
            let (Some(na), Some(nb)) = (step(&aa, sa, c), step(&bb, sb, c)) else {
                continue;
            };
            for ca in closure(&aa, na) {
                for cb in closure(&bb, nb) {
                    if let std::collections::hash_map::Entry::Vacant(e) = parent.entry((ca, cb)) {
                        e.insert(Some(((sa, sb), c)));
                        queue.push_back((ca, cb));
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The frozen trie visits exactly the values the byte trie visits, in the same order:
        /// literals over a small alphabet share prefixes, so chains, branches and values on
        /// inner nodes all occur.
        #[test]
        fn frozen_trie_walks_like_the_byte_trie(
            literals in proptest::collection::vec("[AB#]{0,6}", 0..12),
            keys in proptest::collection::vec("[AB#C]{0,9}", 1..12),
        ) {
            let mut trie = Trie::new();
            for (i, literal) in literals.iter().enumerate() {
                trie.slot(literal).get_or_insert_with(Vec::new).push(i);
            }
            // Keys that reach the literals, and go past them.
            let keys: Vec<String> = keys
                .into_iter()
                .chain(literals.iter().flat_map(|l| [l.clone(), format!("{l}A#")]))
                .collect();
            let mut reference = Vec::new();
            for key in &keys {
                let mut seen = Vec::new();
                trie.walk(key, |v: &Vec<usize>| seen.push(v.clone()));
                reference.push(seen);
            }
            let radix = trie.freeze(|v| v);
            for (key, want) in keys.iter().zip(&reference) {
                let mut seen = Vec::new();
                radix.walk(key, |v| seen.push(v.clone()));
                prop_assert_eq!(&seen, want, "key {:?}", key);
            }
        }
    }

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    #[test]
    fn overlap_finds_a_witness_both_match() {
        for (x, y, expect) in [
            ("USER#{owner}", "USER#{owner}#STORY#{id}", true),
            ("PROFILE", "STORY#{id}", false),
            ("#TASK#{o}", "#BOARD#{o}", false),
            ("{a}", "LIT", true),
            ("A#{a}#B", "A#{b}", true),
            ("L#{n:04}", "L#abcd", false),
            ("L#{n:04}", "L#{m:03}", false),
            ("L#{n:04}", "L#{m}", true),
            ("X", "X", true),
            ("X", "Y", false),
        ] {
            let w = common_key(&p(x), &p(y));
            assert_eq!(w.is_some(), expect, "{x} vs {y}: {w:?}");
            if let Some(w) = w {
                let (px, py) = (p(x), p(y));
                assert!(
                    px.captures(&w, &mut vec![""; px.field_count()]),
                    "{x} !~ {w}"
                );
                assert!(
                    py.captures(&w, &mut vec![""; py.field_count()]),
                    "{y} !~ {w}"
                );
            }
        }
    }

    fn spec(e: &str, pk: &str, sk: &str) -> ModelSpec {
        ModelSpec::new(e, "PK", "SK", p(pk), p(sk))
    }

    #[test]
    fn refuses_overlapping_models_with_an_example() {
        let err = Registry::new(vec![
            spec("A", "USER#{o}", "{x}"),
            spec("B", "USER#{o}#STORY#{s}", "STORY#{s}"),
        ])
        .unwrap_err();
        match err {
            RegistryError::Overlap(o) => {
                let Overlap {
                    first,
                    second,
                    pk,
                    sk,
                    ..
                } = *o;
                assert_eq!((first.as_str(), second.as_str()), ("A", "B"));
                assert!(pk.starts_with("USER#") && pk.contains("#STORY#"), "{pk}");
                assert!(sk.starts_with("STORY#"), "{sk}");
            }
            e => panic!("{e}"),
        }
        assert!(matches!(
            Registry::new(vec![spec("A", "X", "Y"), spec("A", "Z", "Y")]),
            Err(RegistryError::DuplicateEntity(_))
        ));
        // Different key attribute names never collide.
        let other = ModelSpec::new("C", "pk", "sk", p("X"), p("Y"));
        assert!(Registry::new(vec![spec("A", "X", "Y"), other]).is_ok());
    }

    #[test]
    fn the_table_key_attributes_are_the_models_one_pair() {
        let none = Registry::new(vec![]).unwrap();
        assert_eq!(none.table_key_attributes().unwrap(), ("PK", "SK"));
        let one = Registry::new(vec![spec("A", "X", "Y"), spec("B", "Z", "Y")]).unwrap();
        assert_eq!(one.table_key_attributes().unwrap(), ("PK", "SK"));
        let other = ModelSpec::new("C", "pk", "sk", p("Q"), p("R"));
        let mixed = Registry::new(vec![spec("A", "X", "Y"), other]).unwrap();
        let e = mixed.table_key_attributes().unwrap_err();
        assert!(
            matches!(&e, RegistryError::MixedKeyAttributes(a) if a == "PK/SK, pk/sk"),
            "{e}"
        );
    }

    #[test]
    fn finds_models_among_many() {
        let mut specs = vec![
            spec("Profile", "USER#{o}", "PROFILE"),
            spec("Story", "USER#{o}#STORY#{s}", "STORY#{s}"),
        ];
        for i in 0..200 {
            specs.push(spec(
                &format!("M{i}"),
                &format!("T{i}#{{a}}"),
                &format!("S{i}#{{b}}"),
            ));
        }
        let reg = Registry::new(specs).unwrap();
        let name = |pk: &str, sk: &str| {
            reg.find("PK", "SK", pk, sk)
                .map(|i| reg.spec(i).entity().to_string())
        };
        assert_eq!(name("USER#a", "PROFILE").as_deref(), Some("Profile"));
        assert_eq!(name("USER#a#STORY#1", "STORY#1").as_deref(), Some("Story"));
        assert_eq!(name("T17#x", "S17#y").as_deref(), Some("M17"));
        assert_eq!(name("T1#x", "S17#y"), None);
        assert_eq!(name("T17#x", "S1#y"), None);
        assert_eq!(reg.find("pk", "sk", "T17#x", "S17#y"), None);
        let mut n = 0;
        reg.candidates("PK", "SK", "T17#x", "S17#y", |_| n += 1);
        assert_eq!(n, 1, "only the model with matching literals is a candidate");
    }
}
