//! The keymap is data (assets/keymap.toml): each action with its keys and help line. Keys and
//! the `?` overlay read the same table.

use std::collections::HashMap;
use std::str::FromStr;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::app::Action;

const DEFAULT: &str = include_str!("../../assets/keymap.toml");

#[derive(Debug, Deserialize)]
struct File {
    key: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    pub action: String,
    pub keys: Vec<String>,
    pub help: String,
}

#[derive(Debug, Clone)]
pub struct Keymap {
    map: HashMap<(KeyCode, KeyModifiers), Action>,
    pub entries: Vec<Entry>,
}

fn parse_key(s: &str) -> Option<(KeyCode, KeyModifiers)> {
    let (mods, name) = match s.strip_prefix("ctrl-") {
        Some(rest) => (KeyModifiers::CONTROL, rest),
        None => (KeyModifiers::NONE, s),
    };
    let code = match name {
        "Up" => KeyCode::Up,
        "Down" => KeyCode::Down,
        "PageUp" => KeyCode::PageUp,
        "PageDown" => KeyCode::PageDown,
        "Home" => KeyCode::Home,
        "End" => KeyCode::End,
        "Enter" => KeyCode::Enter,
        "Tab" => KeyCode::Tab,
        "BackTab" => KeyCode::BackTab,
        "Esc" => KeyCode::Esc,
        "Space" => KeyCode::Char(' '),
        one if one.chars().count() == 1 => KeyCode::Char(one.chars().next()?),
        _ => return None,
    };
    Some((code, mods))
}

impl Keymap {
    pub fn default_map() -> Keymap {
        Keymap::parse(DEFAULT).expect("the bundled keymap parses")
    }

    pub fn parse(text: &str) -> Result<Keymap, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut map = HashMap::new();
        for e in &file.key {
            let action = Action::from_str(&e.action)?;
            for k in &e.keys {
                let key =
                    parse_key(k).ok_or_else(|| format!("unknown key {k:?} for {}", e.action))?;
                map.insert(key, action);
            }
        }
        Ok(Keymap {
            map,
            entries: file.key,
        })
    }

    pub fn action(&self, key: KeyEvent) -> Option<Action> {
        // Shifted letters arrive as the capital with SHIFT; the table names them by the capital.
        let mods = key.modifiers - KeyModifiers::SHIFT;
        self.map.get(&(key.code, mods)).copied()
    }
}
