//! The compiled pattern and how it is matched against an event.
//!
//! A pattern object is a conjunction: every leaf field, every nested object and every
//! `$or` group (one of its branches) must match the event object at the same level.
//! Event arrays are "crushed out" as AWS does: a nested pattern matches an array if it
//! matches one of its elements (so fields matched together come from the same element,
//! event-ruler's array consistency); a leaf matches an array if one of its leaves
//! (nested arrays flattened, objects skipped) meets one of the values.
//!
//! Absence: a field that is missing, or whose value is an object or holds no leaf
//! (`[]`), is absent; only `{"exists": false}` matches it, and a nested pattern matches
//! an absent object only when everything in it is satisfied by absence.
//! Nothing here recurses deeper than the pattern does, whatever the event holds.

use serde_json::{Map, Value};

use super::matcher::Matcher;

/// A compiled pattern object.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ObjectPattern {
    /// Fields whose pattern is an array of values; one entry per name.
    pub leaves: Vec<(String, LeafPattern)>,
    /// Fields whose pattern is an object; one entry per name.
    pub nested: Vec<(String, ObjectPattern)>,
    /// `$or` groups: each needs one of its branches to match.
    pub any_of: Vec<Vec<ObjectPattern>>,
    /// Whether an absent object satisfies everything above (computed by [`Self::finish`]).
    pub matches_absent: bool,
}

/// A field's array of values: a leaf matches if one of them matches.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LeafPattern {
    pub matchers: Vec<Matcher>,
    /// `{"exists": true}` is among the values.
    pub if_present: bool,
    /// `{"exists": false}` is among the values.
    pub if_absent: bool,
}

impl ObjectPattern {
    /// Sets a leaf field; a repeated name replaces the earlier one (AWS: the last wins).
    pub fn set_leaf(&mut self, name: &str, leaf: LeafPattern) {
        match self.leaves.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => *existing = leaf,
            None => self.leaves.push((name.to_string(), leaf)),
        }
    }

    /// Adds a nested object; a repeated name merges into the earlier one, as the
    /// flattened field names of event-ruler do.
    pub fn add_nested(&mut self, name: &str, nested: ObjectPattern) {
        match self.nested.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => existing.merge(nested),
            None => self.nested.push((name.to_string(), nested)),
        }
    }

    fn merge(&mut self, other: ObjectPattern) {
        for (name, leaf) in other.leaves {
            self.set_leaf(&name, leaf);
        }
        for (name, nested) in other.nested {
            self.add_nested(&name, nested);
        }
        self.any_of.extend(other.any_of);
    }

    /// Computes `matches_absent` here and below; called once the tree is built.
    pub fn finish(&mut self) {
        for (_, nested) in &mut self.nested {
            nested.finish();
        }
        for branch in self.any_of.iter_mut().flatten() {
            branch.finish();
        }
        self.matches_absent = self.leaves.iter().all(|(_, leaf)| leaf.if_absent)
            && self.nested.iter().all(|(_, nested)| nested.matches_absent)
            && self.any_of.iter().all(|group| group.iter().any(|branch| branch.matches_absent));
    }

    /// The number of rule combinations its `$or` groups expand to (saturating).
    pub fn combinations(&self) -> usize {
        let nested = self.nested.iter().fold(1usize, |n, (_, p)| n.saturating_mul(p.combinations()));
        self.any_of.iter().fold(nested, |n, group| {
            n.saturating_mul(group.iter().fold(0usize, |sum, branch| sum.saturating_add(branch.combinations())))
        })
    }

    /// The exact strings a leaf field must equal, when its values are only such strings.
    pub fn required_strings(&self, name: &str) -> Option<Vec<&str>> {
        let (_, leaf) = self.leaves.iter().find(|(n, _)| n == name)?;
        if leaf.if_present || leaf.if_absent {
            return None;
        }
        leaf.matchers.iter().map(|m| if let Matcher::Exact(s) = m { Some(s.as_str()) } else { None }).collect()
    }

    /// Whether an event object matches.
    pub fn matches_object(&self, object: &Map<String, Value>) -> bool {
        self.leaves.iter().all(|(name, leaf)| leaf.matches(object.get(name)))
            && self.nested.iter().all(|(name, nested)| nested.matches_value(object.get(name)))
            && self.any_of.iter().all(|group| group.iter().any(|branch| branch.matches_object(object)))
    }

    /// Whether the value found at this pattern's field matches (`None`: no such field).
    fn matches_value(&self, value: Option<&Value>) -> bool {
        match value {
            Some(Value::Object(object)) => self.matches_object(object),
            Some(Value::Array(items)) => {
                let mut any_element = false;
                for element in Elements::new(items) {
                    any_element = true;
                    let matched = match element {
                        Value::Object(object) => self.matches_object(object),
                        _ => self.matches_absent,
                    };
                    if matched {
                        return true;
                    }
                }
                !any_element && self.matches_absent
            }
            _ => self.matches_absent,
        }
    }
}

impl LeafPattern {
    /// Whether the value found at this field matches (`None`: no such field).
    pub fn matches(&self, value: Option<&Value>) -> bool {
        match value {
            None | Some(Value::Object(_)) => self.if_absent,
            Some(Value::Array(items)) => {
                let mut saw_leaf = false;
                for leaf in Elements::new(items).filter(|v| !v.is_object()) {
                    if self.matchers.iter().any(|m| m.matches(leaf)) {
                        return true;
                    }
                    saw_leaf = true;
                }
                if saw_leaf { self.if_present } else { self.if_absent }
            }
            Some(leaf) => self.if_present || self.matchers.iter().any(|m| m.matches(leaf)),
        }
    }
}

/// The elements of an array with nested arrays flattened, without recursion.
struct Elements<'a> {
    current: std::slice::Iter<'a, Value>,
    /// Outer arrays to resume; empty (unallocated) unless arrays are nested.
    outer: Vec<std::slice::Iter<'a, Value>>,
}

impl<'a> Elements<'a> {
    fn new(items: &'a [Value]) -> Self {
        Elements { current: items.iter(), outer: Vec::new() }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = &'a Value;

    fn next(&mut self) -> Option<&'a Value> {
        loop {
            match self.current.next() {
                Some(Value::Array(inner)) => {
                    let resume = std::mem::replace(&mut self.current, inner.iter());
                    self.outer.push(resume);
                }
                Some(value) => return Some(value),
                None => self.current = self.outer.pop()?,
            }
        }
    }
}
