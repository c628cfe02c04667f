//! Reply templates, troubleshooting steps and questions of the offline drafter, by category and
//! language (assets/templates/README.md). A missing language falls back to English, a missing
//! template to a built-in minimal one.

use std::collections::HashMap;

use regex::Regex;

use super::classifier::fold;

static TEMPLATE_DIR: include_dir::Dir<'_> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/assets/templates");

/// Used when neither the language's nor the English template exists.
pub const BUILT_IN: &str = "Hello {name},\n\n{summary}\n\n{steps}\n{questions}\n{signature}\n";

/// The template key of a category of the analysis.
pub fn category_key(category: &str) -> &'static str {
    match category {
        "Billing" | "billing" => "billing",
        "Technical" | "technical" => "technical",
        "Login/Access" | "login" => "login",
        "Feature Request" | "feature" => "feature",
        "General Inquiry" | "general" => "general",
        _ => "other",
    }
}

/// A question to ask when information is missing, unless the text already gives it.
#[derive(Debug, Clone)]
struct Question {
    text: String,
    /// Matched against the folded text (lowercase, no accents).
    skip_if: Option<Regex>,
}

/// (template key, language).
type Key = (String, String);

#[derive(Debug, Clone, Default)]
pub struct Templates {
    texts: HashMap<Key, String>,
    steps: HashMap<Key, Vec<String>>,
    questions: HashMap<Key, Vec<Question>>,
    /// The line before each list, by language: (steps, questions).
    headings: HashMap<(&'static str, String), String>,
}

/// What a reply is filled with.
#[derive(Debug, Clone, Default)]
pub struct Fill<'a> {
    pub name: &'a str,
    pub ticket: &'a str,
    pub summary: &'a str,
    pub steps: &'a [String],
    pub questions: &'a [String],
    pub signature: &'a str,
}

impl Templates {
    /// The templates compiled into the binary from assets/templates.
    pub fn bundled() -> Result<Templates, String> {
        Templates::from_files(TEMPLATE_DIR.files().filter_map(|f| {
            let name = f.path().file_name()?.to_str()?;
            Some((name, f.contents_utf8()?))
        }))
    }

    /// From (file name, contents) pairs laid out as in assets/templates.
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Templates, String> {
        let mut t = Templates::default();
        for (name, contents) in files {
            if let Some(stem) = name.strip_suffix(".txt")
                && let Some((key, lang)) = stem.split_once('.')
            {
                t.texts
                    .insert((key.to_owned(), lang.to_owned()), contents.to_owned());
            } else if name == "steps.tsv" || name == "questions.tsv" {
                let kind = if name == "steps.tsv" {
                    "steps"
                } else {
                    "questions"
                };
                for (i, line) in contents.lines().enumerate().skip(1) {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let c: Vec<&str> = line.split('\t').map(str::trim).collect();
                    let [category, lang, text, rest @ ..] = c.as_slice() else {
                        return Err(format!(
                            "assets/templates/{name} line {}: expected category, language and \
                             text separated by tabs",
                            i + 1
                        ));
                    };
                    if *category == "heading" {
                        t.headings
                            .insert((kind, (*lang).to_owned()), (*text).to_owned());
                        continue;
                    }
                    let key = (category_key(category).to_owned(), (*lang).to_owned());
                    if kind == "steps" {
                        t.steps.entry(key).or_default().push((*text).to_owned());
                    } else {
                        let skip_if = match rest.first().filter(|p| !p.is_empty()) {
                            Some(p) => Some(Regex::new(p).map_err(|e| {
                                format!(
                                    "assets/templates/{name} line {}: skip_if is not a valid \
                                     pattern: {e}",
                                    i + 1
                                )
                            })?),
                            None => None,
                        };
                        t.questions.entry(key).or_default().push(Question {
                            text: (*text).to_owned(),
                            skip_if,
                        });
                    }
                }
            }
        }
        Ok(t)
    }

    /// The template of a key in a language, else in English, else [`BUILT_IN`].
    pub fn text(&self, key: &str, lang: &str) -> &str {
        self.texts
            .get(&(key.to_owned(), lang.to_owned()))
            .or_else(|| self.texts.get(&(key.to_owned(), "en".to_owned())))
            .map_or(BUILT_IN, String::as_str)
    }

    fn localized<'s, T>(map: &'s HashMap<Key, Vec<T>>, key: &str, lang: &str) -> &'s [T] {
        map.get(&(key.to_owned(), lang.to_owned()))
            .or_else(|| map.get(&(key.to_owned(), "en".to_owned())))
            .map_or(&[], Vec::as_slice)
    }

    /// Troubleshooting steps of a category key, at most `n`.
    pub fn steps(&self, key: &str, lang: &str, n: usize) -> Vec<String> {
        Self::localized(&self.steps, key, lang)
            .iter()
            .take(n)
            .cloned()
            .collect()
    }

    /// The questions of a category key whose answer the text does not already give, at most
    /// `n`.
    pub fn questions(&self, key: &str, lang: &str, text: &str, n: usize) -> Vec<String> {
        let folded = fold(text);
        Self::localized(&self.questions, key, lang)
            .iter()
            .filter(|q| !q.skip_if.as_ref().is_some_and(|r| r.is_match(&folded)))
            .take(n)
            .map(|q| q.text.clone())
            .collect()
    }

    /// A template filled in: lists become a heading line and `- ` items, an empty name drops
    /// its placeholder with the space before it, and runs of blank lines collapse.
    pub fn render(&self, template: &str, lang: &str, fill: &Fill<'_>) -> String {
        let block = |kind: &'static str, items: &[String]| {
            if items.is_empty() {
                return String::new();
            }
            let heading = self
                .headings
                .get(&(kind, lang.to_owned()))
                .or_else(|| self.headings.get(&(kind, "en".to_owned())));
            let mut out = heading.map(|h| format!("{h}\n")).unwrap_or_default();
            for item in items {
                out.push_str(&format!("- {item}\n"));
            }
            out
        };
        let template = if fill.name.is_empty() {
            template.replace(" {name}", "").replace("{name}", "")
        } else {
            template.replace("{name}", fill.name)
        };
        tidy(
            &template
                .replace("{ticket}", fill.ticket)
                .replace("{summary}", fill.summary)
                .replace("{steps}", &block("steps", fill.steps))
                .replace("{questions}", &block("questions", fill.questions))
                .replace("{signature}", fill.signature),
        )
    }
}

/// Trims line ends and collapses the blank lines that empty placeholders leave.
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

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&str; 7] = [
        "billing",
        "technical",
        "login",
        "feature",
        "general",
        "other",
        "escalation",
    ];
    const LANGS: [&str; 4] = ["en", "fr", "de", "es"];

    #[test]
    fn every_bundled_template_exists_and_fills_in() {
        let t = Templates::bundled().unwrap();
        for key in KEYS {
            for lang in LANGS {
                let text = t.texts.get(&(key.to_owned(), lang.to_owned()));
                let text = text.unwrap_or_else(|| panic!("missing {key}.{lang}.txt"));
                assert!(text.contains("{signature}"), "{key}.{lang}");
                let out = t.render(
                    text,
                    lang,
                    &Fill {
                        name: "Ana",
                        ticket: "TKT-2026-00001",
                        summary: "Sync stuck",
                        steps: &["one".into()],
                        questions: &["two?".into()],
                        signature: "Support",
                    },
                );
                assert!(
                    !out.contains('{') && !out.contains('}'),
                    "{key}.{lang}: {out}"
                );
                assert!(out.contains("Ana") && out.ends_with("Support\n"), "{out}");
                for word in ["password", "mot de passe", "passwort", "contraseña"] {
                    // Only ever to say: never send it.
                    if out.to_lowercase().contains(word) {
                        assert!(key == "login" || key == "billing", "{key}.{lang}");
                    }
                }
            }
        }
        for kind in ["steps", "questions"] {
            for lang in LANGS {
                assert!(
                    t.headings.contains_key(&(kind, lang.to_owned())),
                    "{kind} {lang}"
                );
            }
        }
        for key in ["technical", "login", "billing"] {
            for lang in LANGS {
                assert!(!t.steps(key, lang, 3).is_empty(), "steps {key} {lang}");
                assert!(
                    !t.questions(key, lang, "", 3).is_empty(),
                    "questions {key} {lang}"
                );
            }
        }
    }

    #[test]
    fn missing_languages_fall_back_to_english_then_to_the_built_in_template() {
        let t = Templates::from_files([
            ("technical.en.txt", "Hi {name}, {summary}. {signature}"),
            ("technical.fr.txt", "Bonjour {name}, {summary}. {signature}"),
            (
                "steps.tsv",
                "category\tlanguage\ttext\nTechnical\ten\tRestart the app.\n",
            ),
        ])
        .unwrap();
        assert!(t.text("technical", "fr").starts_with("Bonjour"));
        assert!(t.text("technical", "de").starts_with("Hi"));
        assert_eq!(t.text("billing", "de"), BUILT_IN);
        assert_eq!(t.steps("technical", "es", 3), ["Restart the app."]);
        assert!(t.steps("billing", "en", 3).is_empty());
        let fill = Fill {
            summary: "Sync stuck",
            signature: "Support",
            ..Fill::default()
        };
        assert_eq!(
            t.render(t.text("technical", "de"), "de", &fill),
            "Hi, Sync stuck. Support\n"
        );
        assert_eq!(
            t.render(BUILT_IN, "de", &fill),
            "Hello,\n\nSync stuck\n\nSupport\n"
        );
    }

    #[test]
    fn questions_are_skipped_when_the_text_already_answers_them() {
        let t = Templates::from_files([(
            "questions.tsv",
            "category\tlanguage\ttext\tskip_if\n\
             heading\ten\tCould you tell us:\t\n\
             Technical\ten\tWhich system?\twindows|macos\n\
             Technical\ten\tSince when?\t\n",
        )])
        .unwrap();
        assert_eq!(
            t.questions("technical", "en", "Crash on Windows", 3),
            ["Since when?"]
        );
        assert_eq!(
            t.questions("technical", "en", "Crash", 1),
            ["Which system?"]
        );
        let out = t.render(
            "{questions}{signature}",
            "fr",
            &Fill {
                questions: &["Since when?".into()],
                signature: "S",
                ..Fill::default()
            },
        );
        assert_eq!(out, "Could you tell us:\n- Since when?\nS\n");
    }

    #[test]
    fn a_bad_row_or_pattern_is_reported_with_its_line() {
        let e = Templates::from_files([("steps.tsv", "header\nTechnical only\n")]).unwrap_err();
        assert!(e.contains("steps.tsv line 2"), "{e}");
        let e = Templates::from_files([("questions.tsv", "header\nTechnical\ten\tQ?\t(\n")])
            .unwrap_err();
        assert!(
            e.contains("questions.tsv line 2") && e.contains("skip_if"),
            "{e}"
        );
    }
}
