//! MQTT topic names and filters: what may be published to, what may be subscribed to, and
//! which topics a filter matches.

/// A topic a message can be published to: not empty, no wildcards, no NUL, at most 65535 bytes
/// (it is already UTF-8, being a `str`).
pub fn validate_topic_name(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("the topic is empty".into());
    }
    if topic.len() > 65_535 {
        return Err(format!(
            "the topic is {} bytes long; the limit is 65535",
            topic.len()
        ));
    }
    if topic.contains(['+', '#']) {
        return Err(format!(
            "{topic:?} contains a wildcard (+ or #); wildcards are for subscribing"
        ));
    }
    if topic.contains('\0') {
        return Err("the topic contains a NUL character".into());
    }
    Ok(())
}

/// A topic filter a client can subscribe to: not empty, no NUL, at most 65535 bytes, `+` only
/// as a whole level, `#` only as the whole last level.
pub fn validate_topic_filter(filter: &str) -> Result<(), String> {
    if filter.is_empty() {
        return Err("the topic filter is empty".into());
    }
    if filter.len() > 65_535 {
        return Err(format!(
            "the topic filter is {} bytes long; the limit is 65535",
            filter.len()
        ));
    }
    if filter.contains('\0') {
        return Err("the topic filter contains a NUL character".into());
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('+') && *level != "+" {
            return Err(format!(
                "{filter:?}: '+' must be a whole level, as in a/+/c"
            ));
        }
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err(format!(
                "{filter:?}: '#' must be the whole last level, as in a/b/#"
            ));
        }
    }
    Ok(())
}

/// Whether `topic` matches `filter` (both already valid). As brokers do, topics that start with
/// `$` (`$SYS/...`) are not matched by a filter that starts with a wildcard.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            // `a/#` also matches `a` itself: `#` includes the parent level.
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("a/b").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("a/+").is_err());
        assert!(validate_topic_name("a/#").is_err());
        assert!(validate_topic_name("a\0b").is_err());
        assert!(validate_topic_name(&"x".repeat(65_536)).is_err());
        assert!(validate_topic_name(&"x".repeat(65_535)).is_ok());
    }

    #[test]
    fn topic_filters() {
        for ok in [
            "a", "a/b", "+", "#", "a/+/c", "a/#", "+/+", "/", "a//b", "$SYS/#", "/+/",
        ] {
            assert!(validate_topic_filter(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a+", "a/b+/c", "a/#/c", "a#", "#/a", "a/b#", "++", "a\0b",
        ] {
            assert!(validate_topic_filter(bad).is_err(), "{bad:?}");
        }
        assert!(validate_topic_filter(&"x".repeat(65_536)).is_err());
        assert!(validate_topic_filter(&"x".repeat(65_535)).is_ok());
    }

    #[test]
    fn filters_match_topics() {
        let yes = [
            ("a/b", "a/b"),
            ("a/+", "a/b"),
            ("+/b", "a/b"),
            ("a/#", "a"),
            ("a/#", "a/b/c"),
            ("#", "a/b"),
            ("+", ""),
            ("a/+/c", "a//c"),
            ("+/+", "/x"),
            ("$SYS/#", "$SYS/broker/uptime"),
            ("$SYS/+/uptime", "$SYS/broker/uptime"),
        ];
        for (f, t) in yes {
            assert!(topic_matches(f, t), "{f} should match {t}");
        }
        let no = [
            ("a/b", "a/b/c"),
            ("a/+", "a"),
            ("a/+", "a/b/c"),
            ("+", "a/b"),
            ("a/b/#", "a"),
            ("b/#", "a/b"),
            ("#", "$SYS/broker"),
            ("+/broker", "$SYS/broker"),
            ("A/b", "a/b"),
        ];
        for (f, t) in no {
            assert!(!topic_matches(f, t), "{f} should not match {t}");
        }
    }
}
