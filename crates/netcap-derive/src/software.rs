//! Product, version and operating system from the strings software announces
//! about itself: HTTP `User-Agent`, `Server` and `X-Powered-By`.
//!
//! Browsers are recognised the way Zeek's software framework does (the
//! browser's own token, not the `Mozilla/5.0` every browser sends first);
//! anything else is read as RFC 9110 product tokens, `name/version`, of
//! which the first is the software.

/// What an announced string says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// Product name ("Chrome", "nginx").
    pub product: String,
    /// Its version ("25.0.1364.152"), empty when none is given.
    pub version: String,
    /// Operating system named in a comment, empty when none is.
    pub os: String,
    /// A browser was recognised (Zeek's `HTTP::BROWSER`).
    pub browser: bool,
}

/// Browser tokens, most specific first: Edge and Opera also send `Chrome/`,
/// Chrome also sends `Safari/`.
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("Edge/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("Opera/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("YaBrowser/", "Yandex Browser"),
    ("Vivaldi/", "Vivaldi"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
];

/// Reads a `User-Agent` value.
pub fn user_agent(ua: &str) -> Parsed {
    let os = ua_os(ua);
    for (token, name) in BROWSERS {
        if let Some(v) = version_after(ua, token) {
            return browser(name, v, os);
        }
    }
    // Internet Explorer: "MSIE 8.0;", or from 11 on "Trident/7.0; rv:11.0".
    if let Some(v) = version_after(ua, "MSIE ") {
        return browser("MSIE", v, os);
    }
    if ua.contains("Trident/") {
        if let Some(v) = version_after(ua, "rv:") {
            return browser("MSIE", v, os);
        }
    }
    // Safari names its version in "Version/x", its "Safari/x" is a build.
    if ua.contains("Safari/") {
        if let Some(v) = version_after(ua, "Version/") {
            return browser("Safari", v, os);
        }
    }
    let mut p = first_product(ua);
    p.os = os;
    p
}

/// Reads a `Server` or `X-Powered-By` value.
pub fn server(value: &str) -> Parsed {
    let mut p = first_product(value);
    p.os = comments(value)
        .flat_map(|c| c.split(';'))
        .map(str::trim)
        .find(|c| SERVER_OS.iter().any(|os| c.eq_ignore_ascii_case(os)))
        .unwrap_or_default()
        .to_string();
    p
}

/// Operating systems servers name in a comment ("Apache/2.4.41 (Ubuntu)").
const SERVER_OS: &[&str] = &[
    "Ubuntu", "Debian", "CentOS", "Red Hat", "Fedora", "Amazon", "Win32", "Win64", "Unix",
    "FreeBSD", "OpenBSD", "NetBSD", "Raspbian", "SUSE", "Linux", "Darwin",
];

fn browser(name: &str, version: &str, os: String) -> Parsed {
    Parsed {
        product: name.to_string(),
        version: version.to_string(),
        os,
        browser: true,
    }
}

/// The version that follows `token`: digits, dots and letters up to a
/// separator.
fn version_after<'a>(s: &'a str, token: &str) -> Option<&'a str> {
    let at = s.find(token)? + token.len();
    let rest = s.get(at..)?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    let v = rest.get(..end)?;
    v.starts_with(|c: char| c.is_ascii_digit()).then_some(v)
}

/// The first `name/version` product token (or bare name) of a value.
fn first_product(s: &str) -> Parsed {
    let token = s
        .split(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == ';')
        .find(|t| !t.is_empty())
        .unwrap_or_default();
    let (product, version) = token.split_once('/').unwrap_or((token, ""));
    Parsed {
        product: product.to_string(),
        version: version.to_string(),
        ..Parsed::default()
    }
}

/// The parenthesised comments of a value, in order (unbalanced ones end at
/// the end of the value).
fn comments(s: &str) -> impl Iterator<Item = &str> {
    s.split('(')
        .skip(1)
        .map(|c| c.split_once(')').map_or(c, |(inner, _)| inner))
}

/// The operating system a User-Agent names in its comments.
fn ua_os(ua: &str) -> String {
    for part in comments(ua).flat_map(|c| c.split(';')).map(str::trim) {
        if part.starts_with("Windows NT ")
            || part.starts_with("Android")
            || part == "Windows Phone"
            || part.starts_with("Windows Phone ")
        {
            return part.to_string();
        }
        for (marker, name) in [
            ("iPhone OS ", "iOS"),
            ("CPU OS ", "iPadOS"),
            ("Mac OS X ", "macOS"),
        ] {
            if let Some(at) = part.find(marker) {
                let v = part
                    .get(at + marker.len()..)
                    .unwrap_or_default()
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .replace('_', ".");
                return format!("{name} {v}");
            }
        }
        if part.starts_with("CrOS") {
            return "ChromeOS".to_string();
        }
    }
    // A Linux desktop says only "X11; Linux x86_64" (after any more
    // specific name above, Android also says Linux).
    if comments(ua).any(|c| c.contains("Linux")) {
        return "Linux".to_string();
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(s: &str) -> (String, String, String, bool) {
        let p = user_agent(s);
        (p.product, p.version, p.os, p.browser)
    }

    fn t(p: &str, v: &str, os: &str, b: bool) -> (String, String, String, bool) {
        (p.into(), v.into(), os.into(), b)
    }

    #[test]
    fn browsers() {
        // From ../shared/bench/ndpi_mix.pcap.
        assert_eq!(
            ua("Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.22 (KHTML, like Gecko) Chrome/25.0.1364.152 Safari/537.22"),
            t("Chrome", "25.0.1364.152", "Windows NT 6.1", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91"),
            t("Edge", "120.0.2210.91", "Windows NT 10.0", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0"),
            t("Firefox", "115.0", "Linux", true)
        );
        assert_eq!(
            ua("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)"),
            t("MSIE", "8.0", "Windows NT 5.1", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko"),
            t("MSIE", "11.0", "Windows NT 6.3", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (iPhone; CPU iPhone OS 14_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0 Mobile/15E148 Safari/604.1"),
            t("Safari", "14.0", "iOS 14.2", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"),
            t("Safari", "17.1", "macOS 10.15.7", true)
        );
        assert_eq!(
            ua("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"),
            t("Chrome", "120.0.0.0", "Android 10", true)
        );
    }

    #[test]
    fn other_clients_are_their_first_product() {
        assert_eq!(ua("curl/7.68.0"), t("curl", "7.68.0", "", false));
        assert_eq!(ua("Wget/1.21.2"), t("Wget", "1.21.2", "", false));
        assert_eq!(
            ua("Microsoft-CryptoAPI/10.0"),
            t("Microsoft-CryptoAPI", "10.0", "", false)
        );
        assert_eq!(
            ua("Dalvik/2.1.0 (Linux; U; Android 9; SM-G960F Build/PPR1.180610.011)"),
            t("Dalvik", "2.1.0", "Android 9", false)
        );
        assert_eq!(
            ua("Windows-Update-Agent"),
            t("Windows-Update-Agent", "", "", false)
        );
        assert_eq!(ua(""), t("", "", "", false));
        // Unbalanced and odd input stays total.
        assert_eq!(ua("(((;;;"), t("", "", "", false));
        assert_eq!(ua("Chrome/"), t("Chrome", "", "", false));
    }

    #[test]
    fn servers() {
        let s = |v: &str| {
            let p = server(v);
            (p.product, p.version, p.os)
        };
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(s("Apache/2.4.41 (Ubuntu)"), t("Apache", "2.4.41", "Ubuntu"));
        assert_eq!(s("openresty/1.9.7.1"), t("openresty", "1.9.7.1", ""));
        assert_eq!(s("Microsoft-IIS/10.0"), t("Microsoft-IIS", "10.0", ""));
        assert_eq!(s("nginx"), t("nginx", "", ""));
        assert_eq!(s("PHP/7.4.3"), t("PHP", "7.4.3", ""));
        assert_eq!(
            s("Apache/2.2.15 (CentOS) DAV/2 mod_ssl/2.2.15"),
            t("Apache", "2.2.15", "CentOS")
        );
        assert_eq!(
            s("Apache/2.4.6 (Win64; OpenSSL)"),
            t("Apache", "2.4.6", "Win64")
        );
    }
}
