//! One side of a namespace rule's `source`: a database or collection name pattern, either a
//! literal, a glob (`*` any run of characters, `?` one character) or, for the whole
//! `"db.collection"`, a `/regex/`. Patterns compile to anchored [`regex::Regex`]es.

use regex::Regex;

/// A compiled name pattern; `literal` keeps the name when it has no wildcard, so a rule on one
/// collection can be listed and shown as such.
#[derive(Debug, Clone)]
pub struct NamePattern {
    regex: Regex,
    literal: Option<String>,
}

impl NamePattern {
    /// A glob: `*` and `?` are wildcards, everything else matches itself.
    pub fn glob(glob: &str) -> Result<Self, String> {
        if glob.is_empty() {
            return Err("an empty name".into());
        }
        let mut re = String::from("^");
        for c in glob.chars() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                c => re.push_str(&regex::escape(&c.to_string())),
            }
        }
        re.push('$');
        let literal = (!glob.contains(['*', '?'])).then(|| glob.to_string());
        let regex = Regex::new(&re).map_err(|e| e.to_string())?;
        Ok(Self { regex, literal })
    }

    /// Exactly `name`, even when it holds `*` or `?` (a listed collection is a name).
    pub fn exact(name: &str) -> Self {
        let regex = Regex::new(&format!("^{}$", regex::escape(name))).expect("an escaped name");
        Self {
            regex,
            literal: Some(name.to_string()),
        }
    }

    /// A regular expression matched against the whole name (anchored at both ends, as
    /// Debezium's include lists are).
    pub fn regex(re: &str) -> Result<Self, String> {
        if re.is_empty() {
            return Err("an empty regular expression".into());
        }
        let regex = Regex::new(&format!("^(?:{re})$")).map_err(|e| e.to_string())?;
        Ok(Self {
            regex,
            literal: None,
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// The one name this pattern matches, when it is a plain name.
    pub fn literal(&self) -> Option<&str> {
        self.literal.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn globs_match_whole_names_only() {
        let p = NamePattern::glob("tmp_*").unwrap();
        assert!(p.matches("tmp_"));
        assert!(p.matches("tmp_2024.x"));
        assert!(!p.matches("a_tmp_1"));
        let q = NamePattern::glob("log?").unwrap();
        assert!(q.matches("log1") && !q.matches("log") && !q.matches("log12"));
        assert_eq!(
            NamePattern::glob("orders").unwrap().literal(),
            Some("orders")
        );
        assert_eq!(q.literal(), None);
    }

    #[test]
    fn regex_metacharacters_in_a_glob_are_plain() {
        let p = NamePattern::glob("a+b(c)").unwrap();
        assert!(p.matches("a+b(c)"));
        assert!(!p.matches("aab(c)"));
    }

    #[test]
    fn a_regex_is_anchored_and_a_bad_one_is_refused() {
        let p = NamePattern::regex("orders|users").unwrap();
        assert!(p.matches("orders") && p.matches("users"));
        assert!(!p.matches("orders_old"));
        assert!(NamePattern::regex("(").is_err());
        assert!(NamePattern::glob("").is_err());
    }

    proptest! {
        /// A glob without wildcards matches exactly its own text, whatever characters it has.
        #[test]
        fn a_literal_glob_matches_only_itself(name in "[^*?]{1,12}", other in ".{0,12}") {
            let p = NamePattern::glob(&name).unwrap();
            prop_assert!(p.matches(&name));
            prop_assert_eq!(p.matches(&other), other == name);
        }

        /// `prefix*` matches exactly the names that start with the prefix.
        #[test]
        fn a_star_suffix_is_a_prefix_match(prefix in "[a-z_.]{0,6}", name in "[a-z_.]{0,10}") {
            let p = NamePattern::glob(&format!("{prefix}*")).unwrap();
            prop_assert_eq!(p.matches(&name), name.starts_with(&prefix));
        }
    }
}
