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

use std::ffi::OsString;
use std::path::PathBuf;

/// The config file's path, from the environment.
pub fn config_path() -> Option<PathBuf> {
    match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(xdg) => Some(PathBuf::from(xdg).join("mqtk/config.toml")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/mqtk/config.toml")),
    }
}

/// Reads the config file and turns profile `name` into command-line words.
pub fn load(
    name: &str,
    is_flag: impl Fn(&str) -> bool,
    given: impl Fn(&str) -> bool,
) -> Result<Vec<OsString>, String> {
    let path = config_path().ok_or("--profile: neither XDG_CONFIG_HOME nor HOME is set")?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("--profile {name}: cannot read {} ({e})", path.display()))?;
    let words =
        to_args(&text, name, &is_flag, &given).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(w) = credentials_warning(name, &words, given("username")) {
        eprintln!("mqtk: warning: {w}");
    }
    Ok(words)
}

/// A password from the profile for a user name from somewhere else (`--profile lab -u other`)
/// is most likely the wrong password: say so before the broker answers "not authorized".
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

/// Profile `name` of a config file's text as `--flag value` words, leaving out the flags
/// for which `given` is true. `is_flag` tells which long names are connection flags.
pub fn to_args(
    text: &str,
    name: &str,
    is_flag: impl Fn(&str) -> bool,
    given: impl Fn(&str) -> bool,
) -> Result<Vec<OsString>, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let profile = doc
        .get("profile")
        .and_then(|p| p.as_table())
        .and_then(|p| p.get(name))
        .ok_or_else(|| format!("no [profile.{name}] table"))?;
    let profile = profile
        .as_table()
        .ok_or_else(|| format!("profile.{name} is not a table"))?;
    let mut words = Vec::new();
    for (key, value) in profile {
        if key == "profile" || !is_flag(key) {
            return Err(format!(
                "[profile.{name}]: {key:?} is not a connection flag"
            ));
        }
        if given(key) {
            continue;
        }
        let flag = format!("--{key}");
        match value {
            toml::Value::String(s) => words.extend([flag.into(), s.into()]),
            toml::Value::Integer(n) => words.extend([flag.into(), n.to_string().into()]),
            toml::Value::Boolean(true) => words.push(flag.into()),
            toml::Value::Boolean(false) => {}
            _ => {
                return Err(format!(
                    "[profile.{name}]: {key} must be a string, a number or true/false"
                ));
            }
        }
    }
    Ok(words)
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
password-file = "/pw"

[profile.bad]
nonsense = 1
"#;

    fn flags(k: &str) -> bool {
        ["host", "port", "insecure", "debug", "password-file"].contains(&k)
    }

    #[test]
    fn a_profile_becomes_flags_except_those_already_given() {
        let words = to_args(FILE, "home", flags, |k| k == "port").unwrap();
        let words: Vec<_> = words.iter().map(|w| w.to_str().unwrap()).collect();
        assert_eq!(
            words,
            [
                "--host",
                "broker.lan",
                "--insecure",
                "--password-file",
                "/pw"
            ]
        );
    }

    #[test]
    fn a_profile_password_for_another_user_name_is_warned_about() {
        let words = to_args(FILE, "home", flags, |_| false).unwrap();
        let w = credentials_warning("home", &words, true).unwrap();
        assert!(w.contains("--password-file in [profile.home]"), "{w}");
        assert_eq!(credentials_warning("home", &words, false), None);
        let words = to_args(FILE, "home", flags, |k| k == "password-file").unwrap();
        assert_eq!(credentials_warning("home", &words, true), None);
    }

    #[test]
    fn unknown_profiles_keys_and_bad_files_are_errors() {
        assert!(
            to_args(FILE, "work", flags, |_| false)
                .unwrap_err()
                .contains("no [profile.work]")
        );
        assert!(
            to_args(FILE, "bad", flags, |_| false)
                .unwrap_err()
                .contains("not a connection flag")
        );
        assert!(to_args("[profile", "x", flags, |_| false).is_err());
        assert!(to_args("[profile.x]\nhost = [1]", "x", flags, |_| false).is_err());
    }
}
