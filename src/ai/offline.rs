//! The offline drafter: no network, no key. Category, priority, escalation and noise come from
//! naive Bayes models trained at start-up on assets/classifier/train.tsv; the language from
//! whatlang; sentiment from a small lexicon; explicit requests for a person also from phrase
//! patterns in English, French, German and Spanish. The reply is a template of
//! assets/templates filled with the ticket's details, steps and questions.

use std::sync::LazyLock;

use regex::Regex;

use super::analysis::Analysis;
use super::classifier::{LinearModel, Sample, Settings, Vectorizer, balanced_weights};
use super::escalation;
use super::templates::{Fill, Templates, category_key};

pub const TRAIN: &str = include_str!("../../assets/classifier/train.tsv");

/// One labelled example of the classifier data.
#[derive(Debug, Clone)]
pub struct Example {
    pub category: String,
    pub priority: String,
    pub escalate: bool,
    pub noise: bool,
    pub language: String,
    pub text: String,
}

/// Parses tab-separated rows of category, priority, escalate, noise, language and text (header first).
pub fn examples(tsv: &str) -> Result<Vec<Example>, String> {
    tsv.lines()
        .skip(1)
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let c: Vec<&str> = l.splitn(6, '\t').collect();
            if c.len() != 6 {
                return Err(format!("line {}: expected 6 tab-separated columns", i + 2));
            }
            Ok(Example {
                category: c[0].trim().into(),
                priority: c[1].trim().into(),
                escalate: c[2].trim() == "yes",
                noise: c[3].trim() == "yes",
                language: c[4].trim().into(),
                text: c[5].trim().into(),
            })
        })
        .collect()
}

/// Thanks and greetings that noise begins with or consists of.
static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(thanks?|thank\s+you|thx|cheers|hello|hi|hey|great|perfect|works|worked|fixed|merci|bonjour|salut|parfait|danke|vielen\s+dank|hallo|super|gracias|hola|perfecto|genial|ok|okay)\b")
        .expect("greeting regex")
});

/// Words that make a message a request even when it is short and friendly.
static REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(please|can\s+you|could\s+you|need|cannot|can't|won't|doesn't|not\s+working|error|broken|still|refund|cancel|help\s+me|s'il\s+vous|pouvez|besoin|ne\s+\w+\s+pas|bitte|können\s+sie|brauche|funktioniert\s+nicht|fehler|por\s+favor|puede|necesito|no\s+funciona|error)\b")
        .expect("request regex")
});

const NEGATIVE: &[&str] = &[
    "unacceptable",
    "ridiculous",
    "terrible",
    "worst",
    "angry",
    "furious",
    "frustrated",
    "disappointed",
    "useless",
    "scam",
    "cancel",
    "awful",
    "horrible",
    "again",
    "still",
    "inacceptable",
    "scandaleux",
    "déçu",
    "énervé",
    "furieux",
    "nul",
    "unverschämt",
    "frustriert",
    "enttäuscht",
    "ärgerlich",
    "katastrophe",
    "inaceptable",
    "furioso",
    "harto",
    "decepcionado",
    "pésimo",
    "terrible",
];
const POSITIVE: &[&str] = &[
    "thanks",
    "thank",
    "great",
    "love",
    "awesome",
    "perfect",
    "appreciate",
    "merci",
    "super",
    "parfait",
    "génial",
    "danke",
    "toll",
    "prima",
    "gracias",
    "genial",
    "perfecto",
];

pub struct OfflineDrafter {
    vectorizer: Vectorizer,
    category: LinearModel,
    priority: LinearModel,
    noise: LinearModel,
    escalation: LinearModel,
    templates: Templates,
}

/// The escalation model flags a request for a person from this probability on.
const ESCALATION_THRESHOLD: f64 = 0.5;

/// What the drafter reads of a ticket.
#[derive(Debug, Clone, Default)]
pub struct Turn<'a> {
    pub number: &'a str,
    pub requester_name: Option<&'a str>,
    pub subject: &'a str,
    /// The new text of the customer's latest message.
    pub text: &'a str,
    pub signature: &'a str,
}

impl OfflineDrafter {
    /// Trained on the bundled examples.
    pub fn bundled() -> Result<OfflineDrafter, String> {
        Ok(OfflineDrafter::train(&examples(TRAIN)?))
    }

    /// Trains the four models on one shared vectorizer. Every model weighs its examples so that
    /// each (language, label) cell counts the same: English rows outnumber the others, and an
    /// escalation model that saw German asking for a person more often than English flagged
    /// ordinary German mail.
    pub fn train(rows: &[Example]) -> OfflineDrafter {
        let (vectorizer, vectors) = Vectorizer::fit_transform(rows.iter().map(|r| r.text.as_str()));
        let yn = |b: bool| if b { "yes" } else { "no" };
        let quick = Settings {
            epochs: 6,
            ..Settings::default()
        };
        let model = |label: &dyn Fn(&Example) -> Option<&str>, settings: Settings| {
            let picked: Vec<(usize, &str)> = rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| label(r).map(|l| (i, l)))
                .collect();
            let cells: Vec<(&str, &str)> = picked
                .iter()
                .map(|&(i, l)| (rows[i].language.as_str(), l))
                .collect();
            let weights = balanced_weights(&cells);
            let samples: Vec<Sample<'_>> = picked
                .iter()
                .zip(weights)
                .map(|(&(i, l), weight)| Sample {
                    label: l,
                    vector: &vectors[i],
                    weight,
                })
                .collect();
            LinearModel::train(&samples, settings)
        };
        OfflineDrafter {
            category: model(
                &|r| (!r.noise).then_some(r.category.as_str()),
                Settings::default(),
            ),
            // Priority is not measured against a target and noise is gated by rules first:
            // half the epochs keep start-up short.
            priority: model(&|r| Some(r.priority.as_str()), quick),
            noise: model(&|r| Some(yn(r.noise)), quick),
            escalation: model(
                &|r| (!r.noise).then_some(yn(r.escalate)),
                Settings::default(),
            ),
            vectorizer,
            templates: Templates::bundled()
                .expect("the bundled templates parse (a unit test of ai::templates checks)"),
        }
    }

    pub fn category(&self, text: &str) -> (String, f64) {
        self.category.best(&self.vectorizer.vector(text))
    }

    /// How likely the escalation model finds that the text asks for a person.
    pub fn escalation_probability(&self, text: &str) -> f64 {
        self.escalation
            .probability(&self.vectorizer.vector(text), "yes")
    }

    /// An explicit request for a person: a phrase pattern ([`escalation::explicit_request`])
    /// or the escalation model.
    pub fn wants_human(&self, text: &str) -> bool {
        escalation::explicit_request(text).is_some()
            || self.escalation_probability(text) >= ESCALATION_THRESHOLD
    }

    /// A short message of thanks or greeting with no question and no request verb, that the
    /// noise model also takes for noise.
    pub fn is_noise(&self, text: &str) -> bool {
        let body = text.split_once(" — ").map_or(text, |(_, b)| b);
        let words = body.split_whitespace().count();
        if words > 25 || text.contains('?') || REQUEST.is_match(text) || !GREETING.is_match(text) {
            return false;
        }
        self.noise.probability(&self.vectorizer.vector(text), "yes") > 0.8
    }

    pub fn analyse(&self, t: &Turn<'_>) -> Analysis {
        let text = format!("{} — {}", t.subject, t.text);
        let language = language_of(&text);
        let lang = match language.as_str() {
            l @ ("en" | "fr" | "de" | "es") => l.to_owned(),
            _ => "en".to_owned(),
        };
        let v = self.vectorizer.vector(&text);
        let (category, cat_p) = self.category.best(&v);
        let (priority, _) = self.priority.best(&v);
        let asked = escalation::explicit_request(&text);
        let escalate =
            asked.is_some() || self.escalation.probability(&v, "yes") >= ESCALATION_THRESHOLD;
        let noise = !escalate && self.is_noise(&text);
        let sentiment = sentiment(&text);
        let summary = summary(t.subject, t.text);
        let key = category_key(&category);
        // Steps only where there is something to try; questions only for what the text does
        // not already say.
        let steps = if escalate {
            Vec::new()
        } else {
            self.templates.steps(key, &lang, 3)
        };
        let questions = self.templates.questions(key, &lang, &text, 3);
        let template = self
            .templates
            .text(if escalate { "escalation" } else { key }, &lang);
        let name = t
            .requester_name
            .and_then(|n| n.split_whitespace().next())
            .filter(|n| n.chars().all(char::is_alphabetic))
            .unwrap_or("");
        let reply = self.templates.render(
            template,
            &lang,
            &Fill {
                name,
                ticket: t.number,
                summary: &summary,
                steps: &steps,
                questions: &questions,
                signature: t.signature,
            },
        );
        let confidence = if escalate {
            0.3
        } else {
            (cat_p * 0.8).clamp(0.05, 0.95)
        };
        Analysis {
            category,
            priority: if escalate && priority == "low" {
                "medium".into()
            } else {
                priority
            },
            sentiment,
            language,
            summary,
            steps,
            reply,
            escalate,
            escalate_reason: escalate.then(|| {
                if asked.is_some() {
                    "the customer asks for a person".to_owned()
                } else {
                    "the escalation model reads a request for a person".to_owned()
                }
            }),
            questions,
            noise,
            confidence: (confidence * 100.0).round() / 100.0,
            drafter: "offline".into(),
            flags: Vec::new(),
        }
    }
}

/// Adds the final reply of a similar resolved ticket to the analysis, clearly marked, as a
/// suggestion for the reviewer: it goes to the steps, not into the reply to the customer.
pub fn suggest_similar(a: &mut Analysis, number: &str, reply: &str) {
    let flat = reply.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut excerpt: String = flat.chars().take(600).collect();
    if flat.chars().count() > 600 {
        excerpt.push('…');
    }
    a.steps.push(format!(
        "Similar resolved ticket {number} was answered: “{excerpt}”"
    ));
}

/// The language of a text. whatlang is unsure on short mail and takes short Spanish for
/// Catalan or Galician: an unreliable guess outside the four template languages is checked
/// again among those four only.
pub fn language_of(text: &str) -> String {
    use whatlang::Lang::{Deu, Eng, Fra, Spa};
    let info = whatlang::detect(text);
    let lang = match info {
        Some(i) if !i.is_reliable() && ![Eng, Fra, Deu, Spa].contains(&i.lang()) => {
            whatlang::Detector::with_allowlist(vec![Eng, Fra, Deu, Spa])
                .detect_lang(text)
                .or(Some(i.lang()))
        }
        other => other.map(|i| i.lang()),
    };
    match lang {
        Some(whatlang::Lang::Eng) => "en".into(),
        Some(whatlang::Lang::Fra) => "fr".into(),
        Some(whatlang::Lang::Deu) => "de".into(),
        Some(whatlang::Lang::Spa) => "es".into(),
        Some(whatlang::Lang::Por) => "pt".into(),
        Some(whatlang::Lang::Ita) => "it".into(),
        Some(whatlang::Lang::Nld) => "nl".into(),
        Some(other) => other.code().into(),
        None => "en".into(),
    }
}

pub fn sentiment(text: &str) -> String {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let neg = words.iter().filter(|w| NEGATIVE.contains(w)).count() as i64;
    let pos = words.iter().filter(|w| POSITIVE.contains(w)).count() as i64;
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let shouting = letters.len() > 20
        && letters.iter().filter(|c| c.is_uppercase()).count() * 3 > letters.len();
    let score = pos - neg - if shouting { 2 } else { 0 } - i64::from(text.contains("!!"));
    match score {
        s if s < 0 => "negative".into(),
        s if s > 0 => "positive".into(),
        _ => "neutral".into(),
    }
}

/// The subject, or the first sentence when the subject says little.
fn summary(subject: &str, text: &str) -> String {
    let first = text
        .split(['.', '!', '?', '\n'])
        .map(str::trim)
        .find(|s| s.split_whitespace().count() >= 4)
        .unwrap_or("");
    let base = if subject.split_whitespace().count() >= 3 || first.is_empty() {
        subject
    } else {
        first
    };
    let mut s: String = base.chars().take(120).collect();
    if base.chars().count() > 120 {
        s.push('…');
    }
    s
}
