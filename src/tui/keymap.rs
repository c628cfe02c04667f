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

    /// The bundled map with the config's `[keys]`: each named action gets exactly the keys
    /// given (its default keys are dropped); a key taken from another action moves.
    pub fn with_overrides(
        overrides: &std::collections::BTreeMap<String, Vec<String>>,
    ) -> Result<Keymap, String> {
        let mut map = Keymap::default_map();
        for (name, keys) in overrides {
            check_override(name, keys)?;
            let action = Action::from_str(name)?;
            map.map.retain(|_, a| *a != action);
            for k in keys {
                let key = parse_key(k).expect("checked above");
                map.map.insert(key, action);
            }
            for e in &mut map.entries {
                if e.action == *name {
                    e.keys = keys.clone();
                } else {
                    e.keys.retain(|k| !keys.contains(k));
                }
            }
        }
        Ok(map)
    }

    pub fn action(&self, key: KeyEvent) -> Option<Action> {
        // Shifted letters arrive as the capital with SHIFT; the table names them by the capital.
        let mods = key.modifiers - KeyModifiers::SHIFT;
        self.map.get(&(key.code, mods)).copied()
    }
}

/// Checks one `[keys]` line of the config: a known action and keys this map can read.
pub fn check_override(action: &str, keys: &[String]) -> Result<(), String> {
    let known: Vec<String> = Keymap::default_map()
        .entries
        .iter()
        .map(|e| e.action.clone())
        .collect();
    if !known.iter().any(|k| k == action) {
        return Err(format!(
            "unknown action {action:?}; valid: {}",
            known.join(", ")
        ));
    }
    if keys.is_empty() {
        return Err("give at least one key".into());
    }
    for k in keys {
        if parse_key(k).is_none() {
            return Err(format!(
                "unknown key {k:?}; use a character, ctrl-X, or Up, Down, PageUp, PageDown, Home, End, Enter, Tab, BackTab, Esc, Space"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_an_actions_keys_and_move_a_taken_key() {
        let mut o = std::collections::BTreeMap::new();
        o.insert("approve".to_owned(), vec!["y".to_owned()]);
        o.insert("down".to_owned(), vec!["n".to_owned(), "Down".to_owned()]);
        let m = Keymap::with_overrides(&o).unwrap();
        let k = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(m.action(k('y')), Some(Action::Approve));
        assert_eq!(m.action(k('a')), None);
        assert_eq!(m.action(k('n')), Some(Action::Down));
        assert_eq!(m.action(k('j')), None);
        let note = m.entries.iter().find(|e| e.action == "note").unwrap();
        assert!(note.keys.is_empty(), "n moved to down: {:?}", note.keys);
        assert!(
            check_override("fly", &["x".into()])
                .unwrap_err()
                .contains("unknown action")
        );
        assert!(
            check_override("approve", &["F13".into()])
                .unwrap_err()
                .contains("unknown key")
        );
    }
}
