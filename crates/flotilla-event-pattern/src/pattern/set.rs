//! Many patterns (an event bus's rules) matched together, indexed by `source`.
//!
//! Most rules name the exact `source` values they accept; an event is then tried only
//! against the rules naming its source and the rules that name none. The index only
//! skips rules that cannot match, so the answer is exactly that of trying every rule.

use std::collections::HashMap;

use serde_json::Value;

use super::EventPattern;

/// Patterns with keys (rule names, say), matched against events together.
#[derive(Debug, Clone)]
pub struct PatternSet<K> {
    entries: Vec<(K, EventPattern)>,
    /// Entry positions by the exact `source` values their pattern requires.
    by_source: HashMap<String, Vec<usize>>,
    /// Entry positions whose pattern does not require exact `source` values.
    unindexed: Vec<usize>,
}

impl<K> Default for PatternSet<K> {
    fn default() -> Self {
        PatternSet { entries: Vec::new(), by_source: HashMap::new(), unindexed: Vec::new() }
    }
}

impl<K> PatternSet<K> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a pattern under a key (keys need not be unique).
    pub fn insert(&mut self, key: K, pattern: EventPattern) {
        let position = self.entries.len();
        match pattern.root.required_strings("source") {
            Some(sources) => {
                for source in sources {
                    let positions = self.by_source.entry(source.to_string()).or_default();
                    if positions.last() != Some(&position) {
                        positions.push(position);
                    }
                }
            }
            None => self.unindexed.push(position),
        }
        self.entries.push((key, pattern));
    }

    /// The keys of the patterns the event matches, in insertion order.
    pub fn matching(&self, event: &Value) -> Vec<&K> {
        let mut candidates: Vec<usize> = self.unindexed.clone();
        let sources: Vec<&str> = match event.get("source") {
            Some(Value::String(source)) => vec![source.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for source in sources {
            candidates.extend(self.by_source.get(source).into_iter().flatten());
        }
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .filter_map(|position| self.entries.get(position))
            .filter(|(_, pattern)| pattern.matches(event))
            .map(|(key, _)| key)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_index_changes_nothing_but_the_work() {
        let patterns = [
            r#"{"source": ["aws.ec2"]}"#,
            r#"{"source": ["aws.ec2", "aws.s3"], "detail": {"n": [1]}}"#,
            r#"{"source": [{"prefix": "aws."}]}"#,
            r#"{"detail": {"n": [1]}}"#,
            r#"{"source": ["aws.s3", {"exists": false}]}"#,
            r#"{"$or": [{"source": ["aws.ec2"]}, {"source": ["x"]}]}"#,
            r#"{"source": ["10.0.0.1"]}"#,
        ];
        let mut set = PatternSet::new();
        for (i, p) in patterns.iter().enumerate() {
            set.insert(i, EventPattern::parse(p).unwrap());
        }
        let events = [
            json!({"source": "aws.ec2", "detail": {"n": 1}}),
            json!({"source": "aws.s3", "detail": {"n": 2}}),
            json!({"source": ["x", "aws.s3"]}),
            json!({"detail": {"n": 1}}),
            json!({"source": "10.0.0.01"}),
            json!({"source": 5}),
        ];
        for event in &events {
            let all: Vec<usize> =
                (0..patterns.len()).filter(|i| EventPattern::parse(patterns[*i]).unwrap().matches(event)).collect();
            let indexed: Vec<usize> = set.matching(event).into_iter().copied().collect();
            assert_eq!(indexed, all, "{event}");
        }
        assert_eq!(set.len(), patterns.len());
    }
}
