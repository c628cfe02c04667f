//! The list filter: a status, a category and a priority, each `None` for any, AND-combined.
//! `f` changes one of them at a time (a prompt in app.rs); `:filter` gives a whole filter,
//! parsed here. The values are those of the `s`, `c` and `p` pickers ([`ChoiceKind::choices`]).

use super::app::ChoiceKind;
use crate::send::review::Field;
use crate::store::TicketStatus;

/// The key of the `f` prompt that clears every filter.
pub const CLEAR_KEY: char = 'x';
/// The key of a value list that means any value.
pub const ANY_KEY: char = '*';
/// The keys of the `f` prompt that pick what to filter, in the order shown.
pub const DIMENSIONS: [(char, ChoiceKind); 3] = [
    ('s', ChoiceKind::Status),
    ('c', ChoiceKind::Category),
    ('p', ChoiceKind::Priority),
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: Option<TicketStatus>,
    pub category: Option<String>,
    pub priority: Option<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// The value of one dimension, as its choices label it.
    pub fn get(&self, kind: ChoiceKind) -> Option<String> {
        match kind {
            ChoiceKind::Status => self.status.map(|s| s.to_string()),
            ChoiceKind::Category => self.category.clone(),
            ChoiceKind::Priority => self.priority.clone(),
        }
    }

    /// Filters by a value picked from one of the choice lists.
    pub fn apply(&mut self, value: Field) {
        match value {
            Field::Status(s) => self.status = Some(s),
            Field::Category(c) => self.category = Some(c),
            Field::Priority(p) => self.priority = Some(p),
        }
    }

    /// Any value of one dimension.
    pub fn clear(&mut self, kind: ChoiceKind) {
        match kind {
            ChoiceKind::Status => self.status = None,
            ChoiceKind::Category => self.category = None,
            ChoiceKind::Priority => self.priority = None,
        }
    }

    fn parts(&self) -> Vec<(ChoiceKind, String)> {
        [
            ChoiceKind::Status,
            ChoiceKind::Category,
            ChoiceKind::Priority,
        ]
        .into_iter()
        .filter_map(|k| self.get(k).map(|v| (k, v)))
        .collect()
    }

    /// `status: open · category: Billing · priority: high`; empty when nothing is filtered.
    pub fn describe(&self) -> String {
        self.parts()
            .into_iter()
            .map(|(k, v)| format!("{}: {v}", k.name()))
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// The values alone, `open · Billing · high`, where the long form does not fit.
    pub fn describe_short(&self) -> String {
        self.parts()
            .into_iter()
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
            .join(" · ")
    }

    /// The argument of `:filter`: `all` (or nothing), a bare status, or `status=S
    /// category=C priority=P`, any subset, each value as the pickers label it (any case) or
    /// `any`. It gives the whole filter: a dimension not named is any. A value may have
    /// spaces (`category=Feature Request`, or quoted).
    pub fn parse(arg: &str, categories: &[String]) -> Result<Filter, String> {
        let arg = arg.trim();
        let mut filter = Filter::default();
        if arg.is_empty() || arg.eq_ignore_ascii_case("all") {
            return Ok(filter);
        }
        // (key, value, named): a word without `=` continues the value before it, or, first,
        // is a bare status.
        let mut pairs: Vec<(String, String, bool)> = Vec::new();
        for word in arg.split_whitespace() {
            match (word.split_once('='), pairs.last_mut()) {
                (Some((k, v)), _) => pairs.push((k.to_ascii_lowercase(), v.to_owned(), true)),
                (None, Some((_, v, _))) => {
                    v.push(' ');
                    v.push_str(word);
                }
                (None, None) => pairs.push(("status".into(), word.to_owned(), false)),
            }
        }
        for (key, value, named) in pairs {
            let kind = match key.as_str() {
                "status" => ChoiceKind::Status,
                "category" => ChoiceKind::Category,
                "priority" => ChoiceKind::Priority,
                other => {
                    return Err(format!(
                        "unknown filter {other:?}; valid: status, category, priority"
                    ));
                }
            };
            let value = value.trim_matches(|c| c == '"' || c == '\'').trim();
            let choices = kind.choices(categories);
            if value.eq_ignore_ascii_case("any") {
                filter.clear(kind);
                continue;
            }
            match choices
                .iter()
                .find(|(_, label, _)| label.eq_ignore_ascii_case(value))
            {
                Some((_, _, field)) => filter.apply(field.clone()),
                None => {
                    let valid: Vec<String> = choices.into_iter().map(|(_, l, _)| l).collect();
                    let hint = if named {
                        ""
                    } else {
                        " (or name what to filter: status=…, category=…, priority=…)"
                    };
                    return Err(format!(
                        "unknown {} {value:?}; valid: {}{hint}",
                        kind.name(),
                        valid.join(", ")
                    ));
                }
            }
        }
        Ok(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories() -> Vec<String> {
        crate::config::DEFAULT_CATEGORIES
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }

    #[test]
    fn parse_takes_all_a_bare_status_or_named_values_in_any_case() {
        let cats = categories();
        assert_eq!(Filter::parse("all", &cats), Ok(Filter::default()));
        assert_eq!(Filter::parse("", &cats), Ok(Filter::default()));
        assert_eq!(
            Filter::parse("waiting", &cats).unwrap().status,
            Some(TicketStatus::Waiting)
        );
        let f = Filter::parse("priority=HIGH status=open category=billing", &cats).unwrap();
        assert_eq!(
            f.describe(),
            "status: open · category: Billing · priority: high"
        );
        assert_eq!(f.describe_short(), "open · Billing · high");
        let f = Filter::parse("category=Feature Request status=any", &cats).unwrap();
        assert_eq!(f.describe(), "category: Feature Request");
        let f = Filter::parse("category=\"general inquiry\"", &cats).unwrap();
        assert_eq!(f.category.as_deref(), Some("General Inquiry"));
    }

    #[test]
    fn parse_names_the_valid_keys_and_values() {
        let cats = categories();
        assert_eq!(
            Filter::parse("priority=hgh", &cats).unwrap_err(),
            "unknown priority \"hgh\"; valid: low, medium, high, urgent"
        );
        assert_eq!(
            Filter::parse("colour=red", &cats).unwrap_err(),
            "unknown filter \"colour\"; valid: status, category, priority"
        );
        let e = Filter::parse("category=Payments", &cats).unwrap_err();
        assert!(e.contains("valid: Billing, Technical, Login/Access"), "{e}");
        let e = Filter::parse("high", &cats).unwrap_err();
        assert!(
            e.starts_with("unknown status \"high\"; valid: open, waiting"),
            "{e}"
        );
        assert!(e.contains("priority=…"), "{e}");
        let e = Filter::parse("status=", &cats).unwrap_err();
        assert!(e.starts_with("unknown status \"\""), "{e}");
    }
}
