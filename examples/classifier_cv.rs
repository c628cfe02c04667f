//! 5-fold cross-validation of the offline drafter's linear models on the training rows only
//! (assets/classifier/train.tsv), never the held-out set: how its settings were chosen.
//!
//! `cargo run --release --example classifier_cv [EPOCHS RATE L2]`

use std::collections::BTreeMap;

use helpdesk::ai::classifier::{
    LinearModel, Sample, Settings, Sparse, Vectorizer, balanced_weights,
};
use helpdesk::ai::offline::{Example, TRAIN, examples};

/// A task's label of a row, or none when the row does not take part.
type Label<'a> = dyn Fn(&Example) -> Option<String> + 'a;

fn main() {
    let rows = examples(TRAIN).expect("bundled training rows");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut settings = Settings::default();
    if let [epochs, rate, l2] = args.as_slice() {
        settings.epochs = epochs.parse().expect("EPOCHS is a number");
        settings.rate = rate.parse().expect("RATE is a number");
        settings.l2 = l2.parse().expect("L2 is a number");
    }
    let yn = |b: bool| if b { "yes" } else { "no" };
    let tasks: [(&str, &Label<'_>); 2] = [
        ("category", &|r| (!r.noise).then(|| r.category.clone())),
        ("escalation", &|r| {
            (!r.noise).then(|| yn(r.escalate).to_owned())
        }),
    ];
    let folds = 5;
    for (task, label) in tasks {
        let start = std::time::Instant::now();
        let (mut hit, mut all) = (0, 0);
        let mut confusions: BTreeMap<String, usize> = BTreeMap::new();
        for f in 0..folds {
            let train: Vec<&Example> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| i % folds != f)
                .map(|(_, r)| r)
                .collect();
            let test = rows.iter().skip(f).step_by(folds);
            let vectorizer = Vectorizer::fit(train.iter().map(|r| r.text.as_str()));
            let picked: Vec<(&Example, String)> = train
                .iter()
                .filter_map(|r| label(r).map(|l| (*r, l)))
                .collect();
            let vectors: Vec<Sparse> = picked
                .iter()
                .map(|(r, _)| vectorizer.vector(&r.text))
                .collect();
            let cells: Vec<(&str, &str)> = picked
                .iter()
                .map(|(r, l)| (r.language.as_str(), l.as_str()))
                .collect();
            let samples: Vec<Sample<'_>> = picked
                .iter()
                .zip(&vectors)
                .zip(balanced_weights(&cells))
                .map(|(((_, l), v), weight)| Sample {
                    label: l,
                    vector: v,
                    weight,
                })
                .collect();
            let model = LinearModel::train(&samples, settings);
            for r in test {
                let Some(want) = label(r) else { continue };
                let got = model.best(&vectorizer.vector(&r.text)).0;
                all += 1;
                if got == want {
                    hit += 1;
                } else {
                    *confusions.entry(format!("{want} → {got}")).or_default() += 1;
                }
            }
        }
        println!(
            "{task}: {hit}/{all} = {:.1}% over {folds} folds ({settings:?}, {:.1} s)",
            hit as f64 * 100.0 / all as f64,
            start.elapsed().as_secs_f64()
        );
        let mut worst: Vec<_> = confusions.into_iter().collect();
        worst.sort_by_key(|c| std::cmp::Reverse(c.1));
        for (pair, n) in worst.iter().take(6) {
            println!("  {pair}: {n}");
        }
    }
}
