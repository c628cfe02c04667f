//! The structured analysis of a ticket turn (DESIGN §2), stored as JSON beside the draft.

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
}
