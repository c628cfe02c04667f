//! The structured analysis of a ticket turn (DESIGN §2), stored as JSON beside the draft, and
//! the schema a model's answer must meet before it becomes one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub category: String,
    /// low, medium, high, urgent
    pub priority: String,
    /// negative, neutral, positive
    pub sentiment: String,
    /// ISO 639-1 where known (en, fr, de, es…), else ISO 639-3.
    pub language: String,
    pub summary: String,
    pub steps: Vec<String>,
    pub reply: String,
    pub escalate: bool,
    pub escalate_reason: Option<String>,
    pub questions: Vec<String>,
    pub noise: bool,
    /// 0 to 1: how likely the draft resolves the request.
    pub confidence: f64,
    /// Which drafter wrote it: `offline` or the model name.
    pub drafter: String,
    /// What the output checks found (src/ai/checks.rs): shown with the draft, never blocking.
    /// Absent from analyses stored before the checks existed.
    #[serde(default)]
    pub flags: Vec<String>,
}

pub const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];
pub const SENTIMENTS: [&str; 3] = ["negative", "neutral", "positive"];

/// What the model is asked to answer: the analysis without the fields we fill in.
#[derive(Debug, Clone, Deserialize)]
struct ModelAnswer {
    category: String,
    priority: String,
    sentiment: String,
    language: String,
    summary: String,
    #[serde(default)]
    steps: Vec<String>,
    reply: String,
    escalate: bool,
    #[serde(default)]
    escalate_reason: Option<String>,
    #[serde(default)]
    questions: Vec<String>,
    noise: bool,
    confidence: f64,
}

/// The JSON schema of the answer, for `response_format: json_schema` (strict: every key is
/// required and nothing else is allowed).
pub fn json_schema(categories: &[String]) -> serde_json::Value {
    let strings = serde_json::json!({"type": "array", "items": {"type": "string"}});
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["category", "priority", "sentiment", "language", "summary", "steps",
                     "reply", "escalate", "escalate_reason", "questions", "noise", "confidence"],
        "properties": {
            "category": {"type": "string", "enum": categories},
            "priority": {"type": "string", "enum": PRIORITIES},
            "sentiment": {"type": "string", "enum": SENTIMENTS},
            "language": {"type": "string", "description": "ISO 639-1 code of the customer's language"},
            "summary": {"type": "string", "description": "one line"},
            "steps": strings,
            "reply": {"type": "string"},
            "escalate": {"type": "boolean"},
            "escalate_reason": {"type": ["string", "null"]},
            "questions": strings,
            "noise": {"type": "boolean"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        }
    })
}

/// Parses and checks a model's answer. The error lists every problem found, in words the
/// model can act on when it is asked again.
pub fn validate(text: &str, categories: &[String], drafter: &str) -> Result<Analysis, String> {
    let json = strip_fence(text.trim());
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        format!("the answer is not valid JSON ({e}); answer with one JSON object and nothing else")
    })?;
    if !value.is_object() {
        return Err("the answer must be one JSON object, not an array or a value".into());
    }
    let a: ModelAnswer = serde_json::from_value(value)
        .map_err(|e| format!("the JSON object does not have the required keys and types: {e}"))?;
    let mut problems = Vec::new();
    let category = categories
        .iter()
        .find(|c| c.eq_ignore_ascii_case(a.category.trim()))
        .cloned();
    if category.is_none() {
        problems.push(format!(
            "category {:?} is not one of: {}",
            a.category,
            categories.join(", ")
        ));
    }
    let pick = |field: &str, value: &str, set: &[&str], problems: &mut Vec<String>| {
        let v = value.trim().to_lowercase();
        if set.contains(&v.as_str()) {
            v
        } else {
            problems.push(format!(
                "{field} {value:?} is not one of: {}",
                set.join(", ")
            ));
            v
        }
    };
    let priority = pick("priority", &a.priority, &PRIORITIES, &mut problems);
    let sentiment = pick("sentiment", &a.sentiment, &SENTIMENTS, &mut problems);
    let language = a.language.trim().to_lowercase();
    if !(2..=3).contains(&language.len()) || !language.chars().all(|c| c.is_ascii_lowercase()) {
        problems.push(format!(
            "language {:?} is not an ISO 639-1 code such as \"en\" or \"fr\"",
            a.language
        ));
    }
    if !(0.0..=1.0).contains(&a.confidence) || a.confidence.is_nan() {
        problems.push(format!(
            "confidence {} is not between 0 and 1",
            a.confidence
        ));
    }
    let summary = a.summary.split_whitespace().collect::<Vec<_>>().join(" ");
    if summary.is_empty() {
        problems.push("summary is empty; give a one-line summary".into());
    }
    if a.reply.trim().is_empty() && !a.noise {
        problems.push("reply is empty but noise is false; write the reply draft".into());
    }
    if a.steps.len() > 12 || a.questions.len() > 12 {
        problems.push("steps and questions hold at most 12 items each".into());
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(Analysis {
        category: category.unwrap_or_default(),
        priority,
        sentiment,
        language,
        summary,
        steps: clean_list(a.steps),
        reply: a.reply.trim().to_owned(),
        escalate: a.escalate,
        escalate_reason: a
            .escalate_reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        questions: clean_list(a.questions),
        noise: a.noise,
        confidence: (a.confidence * 100.0).round() / 100.0,
        drafter: drafter.to_owned(),
        flags: Vec::new(),
    })
}

fn clean_list(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Local models often wrap JSON in a Markdown code fence even in JSON mode.
fn strip_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.trim().strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats() -> Vec<String> {
        crate::config::DEFAULT_CATEGORIES
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }

    fn answer() -> serde_json::Value {
        serde_json::json!({
            "category": "billing", "priority": "High", "sentiment": "negative",
            "language": "en", "summary": "Charged\ntwice", "steps": [" Check the invoice ", ""],
            "reply": "Hi Dana,\n\nWe are looking into it.", "escalate": false,
            "escalate_reason": null, "questions": [], "noise": false, "confidence": 0.8123
        })
    }

    #[test]
    fn a_good_answer_is_normalised() {
        let a = validate(&answer().to_string(), &cats(), "m").unwrap();
        assert_eq!(a.category, "Billing");
        assert_eq!(a.priority, "high");
        assert_eq!(a.summary, "Charged twice");
        assert_eq!(a.steps, vec!["Check the invoice"]);
        assert_eq!(a.confidence, 0.81);
        assert_eq!(a.drafter, "m");
        let fenced = format!("```json\n{}\n```", answer());
        assert!(validate(&fenced, &cats(), "m").is_ok());
    }

    #[test]
    fn every_problem_is_named() {
        let mut v = answer();
        v["category"] = "Payments".into();
        v["priority"] = "asap".into();
        v["confidence"] = 1.5.into();
        let e = validate(&v.to_string(), &cats(), "m").unwrap_err();
        assert!(
            e.contains("category \"Payments\" is not one of: Billing"),
            "{e}"
        );
        assert!(e.contains("priority \"asap\""), "{e}");
        assert!(e.contains("confidence 1.5"), "{e}");
        let e = validate("{\"category\": ", &cats(), "m").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let mut v = answer();
        v.as_object_mut().unwrap().remove("reply");
        let e = validate(&v.to_string(), &cats(), "m").unwrap_err();
        assert!(e.contains("reply"), "{e}");
    }

    #[test]
    fn old_analysis_json_without_flags_still_loads() {
        let old = r#"{"category":"Billing","priority":"low","sentiment":"neutral","language":"en",
            "summary":"s","steps":[],"reply":"r","escalate":false,"escalate_reason":null,
            "questions":[],"noise":false,"confidence":0.5,"drafter":"offline"}"#;
        let a: Analysis = serde_json::from_str(old).unwrap();
        assert!(a.flags.is_empty());
    }

    #[test]
    fn schema_lists_the_configured_categories() {
        let s = json_schema(&["A".into(), "B".into()]);
        assert_eq!(
            s["properties"]["category"]["enum"],
            serde_json::json!(["A", "B"])
        );
        assert_eq!(s["required"].as_array().unwrap().len(), 12);
    }
}
