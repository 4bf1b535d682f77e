//! `--profile NAME`: connection flags kept in `$XDG_CONFIG_HOME/mqtk/config.toml`
//! (`~/.config/mqtk/config.toml` without XDG_CONFIG_HOME), one table per profile:
//!
//! ```toml
//! [profile.home]
//! host = "broker.lan"
//! port = 8883
//! username = "sensor"
//! password-file = "/home/me/.config/mqtk/sensor.pw"
//! cafile = "/etc/mosquitto/certs/ca.crt"
//! ```
//!
//! Keys are the long names of the connection flags. A profile only fills in what neither the
//! command line nor an `MQTK_*` variable gave: command line > environment > profile > defaults.
//! This file reads the table; `cli` checks each key and value against the flag it names, so
//! that a bad value is reported with the profile, the file and the key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The config file's path, from the environment.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => Some(PathBuf::from(xdg).join("mqtk/config.toml")),
        None => home().map(|h| PathBuf::from(h).join(".config/mqtk/config.toml")),
    }
}

fn home() -> Option<OsString> {
    let home = std::env::var_os("HOME");
    // Windows sets USERPROFILE, and HOME only in some shells (Git's bash): `~` is USERPROFILE
    // there, as in PowerShell.
    #[cfg(windows)]
    let home = home.or_else(|| std::env::var_os("USERPROFILE"));
    home
}

/// One `key = value` of a profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `true` or `false`, for a flag without a value (`insecure = true`).
    Switch(bool),
    /// A string, or an integer as written (`port = 8883` is "8883").
    Text(String),
}

/// A profile read from the config file.
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub path: PathBuf,
    /// The keys, sorted (each names a different flag, so the order does not matter).
    pub entries: Vec<(String, Value)>,
}

impl Profile {
    /// "[profile.NAME] of FILE", for error messages.
    pub fn origin(&self) -> String {
        format!("[profile.{}] of {}", self.name, self.path.display())
    }
}

/// Reads the config file and returns profile `name`.
pub fn load(name: &str) -> Result<Profile, String> {
    let path = config_path().ok_or("--profile: neither XDG_CONFIG_HOME nor HOME is set")?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("--profile {name}: cannot read {} ({e})", path.display()))?;
    let entries = entries(&text, name, &path)?;
    Ok(Profile {
        name: name.to_string(),
        path,
        entries,
    })
}

/// A password from the profile for a user name from somewhere else (`--profile lab -u other`)
/// is most likely the wrong password: say so before the broker answers "not authorized".
/// `words` are the flags the profile supplied (`--pw=...`, `--password-file=...`).
pub fn credentials_warning(name: &str, words: &[OsString], user_given: bool) -> Option<String> {
    let source = words.iter().find_map(|w| {
        let w = w.to_str()?;
        ["--password-file", "--pw"]
            .into_iter()
            .find(|flag| w == *flag || w.starts_with(&format!("{flag}=")))
    })?;
    user_given.then(|| {
        format!(
            "the user name comes from the command line, a URL or MQTK_USERNAME, and the \
             password from {source} in [profile.{name}]: make sure they belong together"
        )
    })
}

/// The `key = value` pairs of `[profile.name]` in a config file's text (`path` is for errors).
pub fn entries(text: &str, name: &str, path: &Path) -> Result<Vec<(String, Value)>, String> {
    let origin = format!("[profile.{name}] of {}", path.display());
    // Only the message: toml's Display quotes the offending line, which may hold a password.
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("{}: {}", path.display(), e.message().trim()))?;
    let profile = doc
        .get("profile")
        .and_then(|p| p.as_table())
        .and_then(|p| p.get(name))
        .ok_or_else(|| format!("{}: no [profile.{name}] table", path.display()))?;
    let profile = profile
        .as_table()
        .ok_or_else(|| format!("{}: profile.{name} is not a table", path.display()))?;
    let mut entries = profile
        .iter()
        .map(|(key, value)| {
            let value = match value {
                toml::Value::String(s) => Value::Text(s.clone()),
                toml::Value::Integer(n) => Value::Text(n.to_string()),
                toml::Value::Boolean(b) => Value::Switch(*b),
                _ => {
                    return Err(format!(
                        "{key} in {origin} must be a string, a number or true/false"
                    ));
                }
            };
            Ok((key.clone(), value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Sorted whatever order the file has them in: each names a different flag.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[profile.home]
host = "broker.lan"
port = 8883
insecure = true
debug = false
pw = "-sekrit"

[profile.bad]
port = 1.5
"#;

    fn path() -> &'static Path {
        Path::new("/cfg/config.toml")
    }

    #[test]
    fn a_profile_is_its_keys_and_values() {
        let got = entries(FILE, "home", path()).unwrap();
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            got,
            [
                ("debug".to_string(), Value::Switch(false)),
                ("host".to_string(), text("broker.lan")),
                ("insecure".to_string(), Value::Switch(true)),
                ("port".to_string(), text("8883")),
                ("pw".to_string(), text("-sekrit")),
            ]
        );
    }

    #[test]
    fn unknown_profiles_bad_values_and_bad_files_are_errors_naming_the_file() {
        let e = entries(FILE, "work", path()).unwrap_err();
        assert_eq!(e, "/cfg/config.toml: no [profile.work] table");
        let e = entries(FILE, "bad", path()).unwrap_err();
        assert_eq!(
            e,
            "port in [profile.bad] of /cfg/config.toml must be a string, a number or true/false"
        );
        assert!(entries("[profile", "x", path()).is_err());
        assert!(entries("[profile.x]\nhost = [1]", "x", path()).is_err());
    }

    #[test]
    fn a_profile_password_for_another_user_name_is_warned_about() {
        let words = vec![OsString::from("--password-file=/run/pw")];
        let w = credentials_warning("home", &words, true).unwrap();
        assert!(w.contains("--password-file in [profile.home]"), "{w}");
        assert_eq!(credentials_warning("home", &words, false), None);
        let words = vec![OsString::from("--host=x")];
        assert_eq!(credentials_warning("home", &words, true), None);
    }

    #[test]
    fn a_syntax_error_does_not_quote_the_line() {
        let e = entries("[profile.x]\npw = \"sekrit\nhost = 1\n", "x", path()).unwrap_err();
        assert!(e.starts_with("/cfg/config.toml: "), "{e}");
        assert!(!e.contains("sekrit"), "{e}");
    }
}
