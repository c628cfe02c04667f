//! A multinomial naive Bayes text classifier with add-one smoothing over word unigrams and
//! bigrams: small, fast to train at start-up from the labelled examples in assets/classifier,
//! and tested against a held-out set it never saw.

use std::collections::HashMap;

/// Lowercased word tokens (letters and digits), plus bigrams joined with `_`.
pub fn features(text: &str) -> Vec<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out = words.clone();
    out.extend(words.windows(2).map(|w| format!("{}_{}", w[0], w[1])));
    out
}

#[derive(Debug, Clone, Default)]
pub struct NaiveBayes {
    /// Per label: (document count, total feature count, feature counts).
    labels: Vec<(String, f64, f64, HashMap<String, f64>)>,
    vocabulary: usize,
    documents: f64,
}

impl NaiveBayes {
    pub fn train<'a>(examples: impl IntoIterator<Item = (&'a str, &'a str)>) -> NaiveBayes {
        let mut by_label: HashMap<String, (f64, f64, HashMap<String, f64>)> = HashMap::new();
        let mut vocabulary = std::collections::HashSet::new();
        let mut documents = 0.0;
        for (label, text) in examples {
            documents += 1.0;
            let entry = by_label.entry(label.to_owned()).or_default();
            entry.0 += 1.0;
            for f in features(text) {
                entry.1 += 1.0;
                *entry.2.entry(f.clone()).or_default() += 1.0;
                vocabulary.insert(f);
            }
        }
        let mut labels: Vec<_> = by_label
            .into_iter()
            .map(|(l, (d, t, c))| (l, d, t, c))
            .collect();
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        NaiveBayes {
            labels,
            vocabulary: vocabulary.len(),
            documents,
        }
    }

    /// Labels with their probabilities, most likely first.
    pub fn predict(&self, text: &str) -> Vec<(String, f64)> {
        let feats = features(text);
        let v = self.vocabulary as f64 + 1.0;
        let scores: Vec<(String, f64)> = self
            .labels
            .iter()
            .map(|(label, docs, total, counts)| {
                let mut s = (docs / self.documents).ln();
                for f in &feats {
                    let c = counts.get(f).copied().unwrap_or(0.0);
                    s += ((c + 1.0) / (total + v)).ln();
                }
                (label.clone(), s)
            })
            .collect();
        // Softmax over log scores, for a confidence.
        let max = scores.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = scores.iter().map(|s| (s.1 - max).exp()).sum();
        let mut probs: Vec<(String, f64)> = scores
            .into_iter()
            .map(|(l, s)| (l, (s - max).exp() / sum))
            .collect();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        probs
    }

    pub fn best(&self, text: &str) -> (String, f64) {
        self.predict(text)
            .into_iter()
            .next()
            .unwrap_or_else(|| (String::new(), 0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_and_predicts_with_confidence() {
        let nb = NaiveBayes::train([
            ("billing", "invoice charged twice refund"),
            ("billing", "my invoice shows the wrong vat number"),
            ("tech", "the app crashes when syncing"),
            ("tech", "sync stuck error message crash"),
        ]);
        let (label, p) = nb.best("charged twice on my invoice");
        assert_eq!(label, "billing");
        assert!(p > 0.5 && p <= 1.0);
        assert_eq!(nb.best("crash during sync").0, "tech");
        assert!(features("Hello, World").contains(&"hello_world".to_owned()));
    }
}
