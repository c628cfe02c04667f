pub mod safe_text;
