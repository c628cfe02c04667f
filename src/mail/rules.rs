//! The admin's `[[rules]]`: conditions on an inbound message (sender, domain, subject, body; plain
//! text or regex) and what to do with its ticket (priority, category, status, no AI). Compiled
//! once from the config, matched at ingest; every condition of a rule must hold, and matching
//! rules apply in file order, so a later rule wins.

use regex::{Regex, RegexBuilder};

use crate::config;
use crate::store::TicketStatus;

/// The priorities a rule may set (those of the analysis).
pub const PRIORITIES: &[&str] = &["low", "medium", "high", "urgent"];

#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    conditions: Vec<Condition>,
    actions: Actions,
}

#[derive(Debug, Clone)]
enum Field {
    From,
    Domain,
    Subject,
    Body,
}

#[derive(Debug, Clone)]
enum Condition {
    Text(Field, String),
    Regex(Field, Regex),
}

/// What matching rules decided for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    pub priority: Option<String>,
    pub category: Option<String>,
    pub status: Option<TicketStatus>,
    pub skip_ai: bool,
}

/// The parts of a message rules look at.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub from: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
}

/// A rule that matched, with its name for the event log.
#[derive(Debug, Clone)]
pub struct Matched<'a> {
    pub name: &'a str,
    pub actions: &'a Actions,
}

impl Rules {
    /// Compiles the config's rules; an error names the key (`rules[2].subject_regex`) and why.
    pub fn compile(rules: &[config::Rule]) -> Result<Rules, (String, String)> {
        let mut out = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let key = |k: &str| format!("rules[{i}].{k}");
            let mut conditions = Vec::new();
            for (k, field, text) in [
                ("from", Field::From, &r.from),
                ("domain", Field::Domain, &r.domain),
                ("subject", Field::Subject, &r.subject),
                ("body", Field::Body, &r.body),
            ] {
                if let Some(t) = text {
                    if t.trim().is_empty() {
                        return Err((key(k), "is empty; remove the key or give text".into()));
                    }
                    let t = t.trim().to_lowercase();
                    let t = match field {
                        Field::Domain => t.trim_start_matches('@').to_owned(),
                        _ => t,
                    };
                    conditions.push(Condition::Text(field, t));
                }
            }
            for (k, field, pattern) in [
                ("from_regex", Field::From, &r.from_regex),
                ("subject_regex", Field::Subject, &r.subject_regex),
                ("body_regex", Field::Body, &r.body_regex),
            ] {
                if let Some(p) = pattern {
                    let re = RegexBuilder::new(p)
                        .case_insensitive(true)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| {
                            (
                                key(k),
                                format!(
                                    "{p:?} is not a valid regular expression: {}",
                                    e.to_string().lines().last().unwrap_or("").trim()
                                ),
                            )
                        })?;
                    conditions.push(Condition::Regex(field, re));
                }
            }
            if conditions.is_empty() {
                return Err((
                    key("from"),
                    "the rule has no condition; give at least one of from, from_regex, domain, \
                     subject, subject_regex, body, body_regex"
                        .into(),
                ));
            }
            if let Some(p) = &r.set_priority
                && !PRIORITIES.contains(&p.as_str())
            {
                return Err((
                    key("set_priority"),
                    format!(
                        "{p:?} is not a priority; use one of {}",
                        PRIORITIES.join(", ")
                    ),
                ));
            }
            let status = match &r.set_status {
                Some(s) => Some(s.parse::<TicketStatus>().map_err(|_| {
                    (
                        key("set_status"),
                        format!(
                            "{s:?} is not a status; use one of {}",
                            TicketStatus::ALL
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?),
                None => None,
            };
            if let Some(c) = &r.set_category
                && c.trim().is_empty()
            {
                return Err((key("set_category"), "is empty".into()));
            }
            let actions = Actions {
                priority: r.set_priority.clone(),
                category: r.set_category.as_ref().map(|c| c.trim().to_owned()),
                status,
                skip_ai: r.skip_ai,
            };
            if actions == Actions::default() {
                return Err((
                    key("set_priority"),
                    "the rule does nothing; give at least one of set_priority, set_category, \
                     set_status, skip_ai = true"
                        .into(),
                ));
            }
            out.push(Rule {
                name: r.name.clone().unwrap_or_else(|| format!("rules[{i}]")),
                conditions,
                actions,
            });
        }
        Ok(Rules { rules: out })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules that match a message, in file order.
    pub fn matching<'a>(&'a self, m: &Message<'_>) -> Vec<Matched<'a>> {
        self.rules
            .iter()
            .filter(|r| r.conditions.iter().all(|c| c.holds(m)))
            .map(|r| Matched {
                name: &r.name,
                actions: &r.actions,
            })
            .collect()
    }

    /// The combined actions of the matching rules (a later rule wins).
    pub fn decide(matched: &[Matched<'_>]) -> Actions {
        let mut out = Actions::default();
        for m in matched {
            let a = m.actions;
            if a.priority.is_some() {
                out.priority.clone_from(&a.priority);
            }
            if a.category.is_some() {
                out.category.clone_from(&a.category);
            }
            if a.status.is_some() {
                out.status = a.status;
            }
            out.skip_ai |= a.skip_ai;
        }
        out
    }
}

impl Condition {
    fn holds(&self, m: &Message<'_>) -> bool {
        let from = m.from.unwrap_or("");
        let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
        match self {
            Condition::Text(Field::From, t) => from.eq_ignore_ascii_case(t),
            Condition::Text(Field::Domain, t) => {
                let d = domain.to_ascii_lowercase();
                d == *t || d.ends_with(&format!(".{t}"))
            }
            Condition::Text(Field::Subject, t) => m.subject.to_lowercase().contains(t.as_str()),
            Condition::Text(Field::Body, t) => m.body.to_lowercase().contains(t.as_str()),
            Condition::Regex(Field::From | Field::Domain, re) => re.is_match(from),
            Condition::Regex(Field::Subject, re) => re.is_match(m.subject),
            Condition::Regex(Field::Body, re) => re.is_match(m.body),
        }
    }
}

impl Actions {
    /// `priority high, category Billing, no AI` for the event log.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.priority {
            parts.push(format!("priority {p}"));
        }
        if let Some(c) = &self.category {
            parts.push(format!("category {c}"));
        }
        if let Some(s) = self.status {
            parts.push(format!("status {s}"));
        }
        if self.skip_ai {
            parts.push("no AI".into());
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> config::Rule {
        config::Rule::default()
    }

    #[test]
    fn conditions_all_hold_and_later_rules_win() {
        let rules = Rules::compile(&[
            config::Rule {
                domain: Some("bigcorp.example".into()),
                set_priority: Some("high".into()),
                ..rule()
            },
            config::Rule {
                name: Some("invoices".into()),
                domain: Some("bigcorp.example".into()),
                subject_regex: Some(r"\binvoice\s+\d+".into()),
                set_priority: Some("urgent".into()),
                set_category: Some("Billing".into()),
                ..rule()
            },
        ])
        .unwrap();
        let m = Message {
            from: Some("Ann@Sales.BigCorp.example"),
            subject: "Invoice 42 is wrong",
            body: "",
        };
        let matched = rules.matching(&m);
        assert_eq!(matched.len(), 2);
        assert_eq!(matched[1].name, "invoices");
        let a = Rules::decide(&matched);
        assert_eq!(a.priority.as_deref(), Some("urgent"));
        assert_eq!(a.category.as_deref(), Some("Billing"));
        let other = Message {
            from: Some("ann@notbigcorp.example"),
            ..m
        };
        assert!(rules.matching(&other).is_empty());
    }

    #[test]
    fn errors_name_the_rule_and_key() {
        let (k, m) = Rules::compile(&[
            config::Rule {
                subject: Some("x".into()),
                skip_ai: true,
                ..rule()
            },
            config::Rule {
                body_regex: Some("(unclosed".into()),
                skip_ai: true,
                ..rule()
            },
        ])
        .unwrap_err();
        assert_eq!(k, "rules[1].body_regex", "{m}");
        assert!(m.contains("(unclosed") && m.contains("not a valid regular expression"));
        let (k, _) = Rules::compile(&[config::Rule {
            subject: Some("x".into()),
            set_priority: Some("p1".into()),
            ..rule()
        }])
        .unwrap_err();
        assert_eq!(k, "rules[0].set_priority");
        let (k, m) = Rules::compile(&[config::Rule {
            subject: Some("x".into()),
            ..rule()
        }])
        .unwrap_err();
        assert!(
            k.starts_with("rules[0]") && m.contains("does nothing"),
            "{m}"
        );
        let (_, m) = Rules::compile(&[config::Rule {
            skip_ai: true,
            ..rule()
        }])
        .unwrap_err();
        assert!(m.contains("no condition"), "{m}");
    }
}
