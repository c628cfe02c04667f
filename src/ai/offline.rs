//! The offline drafter: no network, no key. Category, priority, escalation and noise come from
//! naive Bayes models trained at start-up on assets/classifier/train.tsv; the language from
//! whatlang; sentiment from a small lexicon; explicit requests for a person also from phrase
//! patterns in English, French, German and Spanish. The reply is a template of
//! assets/templates filled with the ticket's details, steps and questions.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::analysis::Analysis;
use super::classifier::NaiveBayes;

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

/// Explicit requests for a person, by language (the issue's examples and their kin).
static HUMAN_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(real|actual|live|human)\s+(person|human|being|agent|people|support|representative)\b
        | \b(talk|speak|chat)\s+(to|with)\s+(a|an|someone|somebody|your|the)?\s*(human|person|manager|supervisor|agent|representative|real)\b
        | \b(escalate|escalation)\b | \bnot\s+(a|an|with\s+a|another)\s+(bot|robot|machine|ai)\b
        | \bescalad | \bsupport\s+humain | \b(parler|discuter)\s+(à|a|avec)\s+(un|une|quelqu)
        | \b(un|une)\s+(humain|personne\s+réelle|vraie\s+personne|conseiller|responsable)\b
        | \bmitarbeiter | \bmenschen\b | \becht(e|en)\s+person | \bvorgesetzt | \beskalier
        | \bhablar\s+con\s+(una|un|alguien|el|la) | \b(persona|agente)\s+(real|humano|humana)\b
        | \bescalar\b | \bsupervisor\b | \bhumano\b
        ",
    )
    .expect("human-request regex")
});

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

/// Templates and lists from assets/templates, by (category key, language).
pub struct Templates {
    texts: HashMap<(String, String), String>,
    steps: HashMap<(String, String), Vec<String>>,
    questions: HashMap<(String, String), Vec<String>>,
}

static TEMPLATE_DIR: include_dir::Dir<'_> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/assets/templates");

fn category_key(category: &str) -> &'static str {
    match category {
        "Billing" => "billing",
        "Technical" => "technical",
        "Login/Access" => "login",
        "Feature Request" => "feature",
        "General Inquiry" => "general",
        _ => "other",
    }
}

impl Templates {
    pub fn bundled() -> Templates {
        let mut texts = HashMap::new();
        for f in TEMPLATE_DIR.files() {
            let name = f.path().file_name().and_then(|n| n.to_str()).unwrap_or("");
            if let Some(stem) = name.strip_suffix(".txt")
                && let Some((key, lang)) = stem.split_once('.')
            {
                texts.insert(
                    (key.to_owned(), lang.to_owned()),
                    f.contents_utf8().unwrap_or("").to_owned(),
                );
            }
        }
        let list = |name: &str| {
            let mut map: HashMap<(String, String), Vec<String>> = HashMap::new();
            if let Some(text) = TEMPLATE_DIR.get_file(name).and_then(|f| f.contents_utf8()) {
                for line in text.lines().skip(1) {
                    let c: Vec<&str> = line.splitn(3, '\t').collect();
                    if c.len() == 3 {
                        map.entry((category_key(c[0].trim()).to_owned(), c[1].trim().to_owned()))
                            .or_default()
                            .push(c[2].trim().to_owned());
                    }
                }
            }
            map
        };
        Templates {
            texts,
            steps: list("steps.tsv"),
            questions: list("questions.tsv"),
        }
    }

    fn text(&self, key: &str, lang: &str) -> &str {
        self.texts
            .get(&(key.to_owned(), lang.to_owned()))
            .or_else(|| self.texts.get(&(key.to_owned(), "en".to_owned())))
            .map_or(
                "Hi {name},\n\n{summary}\n\n{steps}{questions}{signature}",
                String::as_str,
            )
    }
}

pub struct OfflineDrafter {
    category: NaiveBayes,
    priority: NaiveBayes,
    noise: NaiveBayes,
    templates: Templates,
}

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

    pub fn train(rows: &[Example]) -> OfflineDrafter {
        let yn = |b: bool| if b { "yes" } else { "no" };
        OfflineDrafter {
            category: NaiveBayes::train(
                rows.iter()
                    .filter(|r| !r.noise)
                    .map(|r| (r.category.as_str(), r.text.as_str())),
            ),
            priority: NaiveBayes::train(
                rows.iter().map(|r| (r.priority.as_str(), r.text.as_str())),
            ),
            noise: NaiveBayes::train(rows.iter().map(|r| (yn(r.noise), r.text.as_str()))),
            templates: Templates::bundled(),
        }
    }

    pub fn category(&self, text: &str) -> (String, f64) {
        self.category.best(text)
    }

    /// Phrase patterns only: the naive Bayes escalation model leaned on language (German rows
    /// asked for a person more often in training) and flagged ordinary German mail.
    pub fn wants_human(&self, text: &str) -> bool {
        HUMAN_REQUEST.is_match(text) && !text.to_lowercase().contains("human error")
    }

    /// A short message of thanks or greeting with no question and no request verb, that the
    /// noise model also takes for noise.
    pub fn is_noise(&self, text: &str) -> bool {
        let body = text.split_once(" — ").map_or(text, |(_, b)| b);
        let words = body.split_whitespace().count();
        if words > 25 || text.contains('?') || REQUEST.is_match(text) || !GREETING.is_match(text) {
            return false;
        }
        self.noise
            .predict(text)
            .into_iter()
            .find(|(l, _)| l == "yes")
            .is_some_and(|x| x.1 > 0.8)
    }

    pub fn analyse(&self, t: &Turn<'_>) -> Analysis {
        let text = format!("{} — {}", t.subject, t.text);
        let language = language_of(&text);
        let lang = match language.as_str() {
            l @ ("en" | "fr" | "de" | "es") => l.to_owned(),
            _ => "en".to_owned(),
        };
        let (category, cat_p) = self.category(&text);
        let (priority, _) = self.priority.best(&text);
        let escalate = self.wants_human(&text);
        let noise = !escalate && self.is_noise(&text);
        let sentiment = sentiment(&text);
        let summary = summary(t.subject, t.text);
        let key = category_key(&category);
        let pick = |map: &HashMap<(String, String), Vec<String>>, n: usize| -> Vec<String> {
            map.get(&(key.to_owned(), lang.clone()))
                .or_else(|| map.get(&(key.to_owned(), "en".to_owned())))
                .map(|v| v.iter().take(n).cloned().collect())
                .unwrap_or_default()
        };
        let steps = if matches!(key, "technical" | "login") {
            pick(&self.templates.steps, 3)
        } else {
            Vec::new()
        };
        let questions = if t.text.split_whitespace().count() < 60 {
            pick(&self.templates.questions, 2)
        } else {
            Vec::new()
        };
        let template = if escalate {
            self.templates.text("escalation", &lang)
        } else {
            self.templates.text(key, &lang)
        };
        let block = |items: &[String]| {
            if items.is_empty() {
                String::new()
            } else {
                items
                    .iter()
                    .map(|s| format!("- {s}"))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            }
        };
        let name = t
            .requester_name
            .and_then(|n| n.split_whitespace().next())
            .filter(|n| n.chars().all(char::is_alphabetic))
            .unwrap_or("");
        let reply = template
            .replace("{name}", name)
            .replace("{ticket}", t.number)
            .replace("{summary}", &summary)
            .replace("{steps}", &block(&steps))
            .replace("{questions}", &block(&questions))
            .replace("{signature}", t.signature);
        let reply = tidy(&reply);
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
            escalate_reason: escalate.then(|| "the customer asks for a person".to_owned()),
            questions,
            noise,
            confidence: (confidence * 100.0).round() / 100.0,
            drafter: "offline".into(),
            flags: Vec::new(),
        }
    }
}

/// Collapses the blank lines that empty placeholders leave.
fn tidy(s: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in s.trim().lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn language_of(text: &str) -> String {
    match whatlang::detect(text).map(|i| i.lang()) {
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
