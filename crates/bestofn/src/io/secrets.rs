//! Credentials that travel in URLs (`https://user:pass@host`, `?api_key=...`) cut out of
//! whatever is shown: warnings, errors, logged settings, records.

/// Query parameter names whose values are secrets (ASCII case ignored, any part of the name).
const SECRET_NAMES: [&str; 10] = [
    "key",
    "token",
    "secret",
    "pass",
    "pwd",
    "auth",
    "sig",
    "credential",
    "session",
    "code",
];

const REDACTED: &str = "<redacted>";

/// `url` with its userinfo and the values of secret-looking query parameters replaced by
/// `<redacted>`: `https://u:p@host/v1?api_key=K&x=1` → `https://<redacted>@host/v1?api_key=<redacted>&x=1`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => format!("{REDACTED}@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_query(query)),
        None => tail.to_owned(),
    };
    format!("{head}{host}{tail}")
}

fn redact_query(query: &str) -> String {
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = pairs.join("&");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|secret| name.contains(secret))
}

/// `text` with every URL in it (a run of characters from `scheme://` to whitespace, a quote or
/// a closing bracket) passed through [`redact_url`].
pub fn redact_urls(text: &str) -> String {
    if !text.contains("://") {
        return text.to_owned();
    }
    let ends_url = |c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']' | '}' | ',' | '`')
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end = rest[at..].find(ends_url).map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_cut_out() {
        assert_eq!(
            redact_url("https://user:pass@host:8000/v1?api_key=K1&x=1&token=T#frag"),
            "https://<redacted>@host:8000/v1?api_key=<redacted>&x=1&token=<redacted>#frag"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            redact_url("https://host/v1?api-version=2024&Sig=abc"),
            "https://host/v1?api-version=2024&Sig=<redacted>"
        );
        // The '@' of a path is not userinfo.
        assert_eq!(redact_url("http://host/a@b"), "http://host/a@b");
        let said = "http://u:secret@h/v1/completions: HTTP 500; retrying on \"https://h2/?key=zz\"";
        let shown = redact_urls(said);
        assert!(
            !shown.contains("secret") && !shown.contains("zz"),
            "{shown}"
        );
        assert!(shown.contains("HTTP 500; retrying on"), "{shown}");
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
