//! Compose files as Compose reads them, as facts: which files ([`files`]: `COMPOSE_FILE`,
//! `-f`, v1's and v2's default names, overrides), their text interpolated from the environment
//! and `.env`, merge keys applied, every key checked against the Compose Specification's, and
//! each service's build context, image and published ports. Bounded before the parser sees it
//! (nesting depth). The `compose` check kind and `lab ci`'s vetting both read through here, as
//! [`crate::dockerfile`] is for Dockerfiles.

pub mod files;

use std::path::Path;

use serde_norway::Value;

use crate::dockerfile::{is_name, name_at};
use crate::reference::edit_distance;
use crate::report::CheckResult;

const TOP_KEYS: [&str; 8] = [
    "version", "services", "networks", "volumes", "configs", "secrets", "name", "include",
];
const SERVICE_KEYS: [&str; 62] = [
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_shares",
    "cpu_period",
    "cpu_quota",
    "cpus",
    "cpuset",
    "depends_on",
    "deploy",
    "develop",
    "devices",
    "dns",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "labels",
    "links",
    "logging",
    "mem_limit",
    "mem_reservation",
    "network_mode",
    "networks",
    "platform",
    "ports",
    "privileged",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "volumes",
];
const MORE_SERVICE_KEYS: [&str; 6] = [
    "working_dir",
    "sysctls",
    "userns_mode",
    "pid",
    "mac_address",
    "scale",
];

/// A service publishing `host:container`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFacts {
    pub name: String,
    pub build_context: Option<String>,
    pub image: Option<String>,
    /// (host port, container port) pairs, TCP.
    pub ports: Vec<(Option<u16>, u16)>,
    /// The same for UDP, which an HTTP app cannot answer on.
    pub udp_ports: Vec<(Option<u16>, u16)>,
}

/// Deeper than this is refused before parsing (a real compose file is 4 to 6 levels deep).
const MAX_NESTING: usize = 64;

/// The first line where YAML flow (`[`, `{`) or block (indentation) nesting passes `max`, in
/// one linear pass, so a hostile file never reaches the parser's recursion.
pub fn too_deep(text: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        if indent / 2 > max {
            return Some(n + 1);
        }
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > max {
                        return Some(n + 1);
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")))
        .map(|i| i + 1)
}

fn suggest(key: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k.to_string())
}

/// The variables Compose interpolates with: this process's environment, over the workspace's
/// `.env` file (Compose reads it from the project directory).
pub fn compose_env(dir: &Path) -> std::collections::HashMap<String, String> {
    let mut vars = std::collections::HashMap::new();
    if let Ok(text) =
        crate::bounded::read_text(&dir.join(".env"), crate::bounded::MAX_SPEC_FILE, Some(dir))
    {
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim().trim_matches('"').trim_matches('\'');
                vars.insert(k.trim().to_string(), v.to_string());
            }
        }
    }
    vars.extend(std::env::vars());
    vars
}

/// Interpolate a Compose string as Compose does: `$$` is a literal `$`; `$VAR`, `${VAR}`,
/// `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:+alt}`, `${VAR+alt}`,
/// and `${VAR:?message}` / `${VAR?message}` (an error when missing).
pub fn interpolate(
    s: &str,
    vars: &std::collections::HashMap<String, String>,
) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let b: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != '$' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let close = b[i + 2..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| format!("{s:?}: `${{` without a closing `}}`"))?;
                let inner: String = b[i + 2..i + 2 + close].iter().collect();
                let name_end = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
                let (name, op) = inner.split_at(name_end);
                let set = vars.get(name);
                let nonempty = set.filter(|v| !v.is_empty());
                let value = match op {
                    "" => set.cloned().unwrap_or_default(),
                    _ if op.starts_with(":-") => match nonempty {
                        Some(v) => v.clone(),
                        None => interpolate(&op[2..], vars)?,
                    },
                    _ if op.starts_with('-') => match set {
                        Some(v) => v.clone(),
                        None => interpolate(&op[1..], vars)?,
                    },
                    _ if op.starts_with(":+") => match nonempty {
                        Some(_) => interpolate(&op[2..], vars)?,
                        None => String::new(),
                    },
                    _ if op.starts_with('+') => match set {
                        Some(_) => interpolate(&op[1..], vars)?,
                        None => String::new(),
                    },
                    _ if op.starts_with(":?") || op.starts_with('?') => match nonempty {
                        Some(v) => v.clone(),
                        None => {
                            return Err(format!(
                                "{name} is required: {}",
                                op.trim_start_matches(':').trim_start_matches('?')
                            ))
                        }
                    },
                    _ => return Err(format!("{s:?}: invalid interpolation `${{{inner}}}`")),
                };
                out.push_str(&value);
                i += close + 3;
            }
            Some(&c) if is_name(c) => {
                let (name, end) = name_at(&b, i + 1);
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
                i = end;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// One entry of `ports:`, after interpolation: (host port, container port, protocol is UDP).
pub fn parse_port(
    v: &Value,
    vars: &std::collections::HashMap<String, String>,
) -> Result<(Option<u16>, u16, bool), String> {
    let port = |n: u64| {
        u16::try_from(n)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{n} is not a port (1 to 65535)"))
    };
    match v {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a port"))
            .and_then(port)
            .map(|p| (None, p, false)),
        Value::String(raw) => {
            let s = interpolate(raw, vars)?;
            let (s, proto) = s.split_once('/').unwrap_or((&s, "tcp"));
            let udp = proto.eq_ignore_ascii_case("udp");
            let parts: Vec<&str> = s.rsplitn(3, ':').collect();
            let num = |x: &str| {
                x.parse::<u64>()
                    .map_err(|_| format!("{x:?} is not a port number"))
                    .and_then(port)
            };
            match parts.as_slice() {
                [c] => Ok((None, num(c)?, udp)),
                [c, h] | [c, h, _] => Ok((
                    if h.is_empty() { None } else { Some(num(h)?) },
                    num(c)?,
                    udp,
                )),
                _ => Err(format!("{s:?} is not a port mapping")),
            }
        }
        Value::Mapping(m) => {
            let get = |k: &str| -> Result<Option<u16>, String> {
                match m.get(Value::String(k.into())) {
                    None => Ok(None),
                    Some(v) => {
                        let n = match v.as_u64() {
                            Some(n) => n,
                            None => interpolate(v.as_str().unwrap_or_default(), vars)?
                                .parse::<u64>()
                                .map_err(|_| format!("`{k}` is not a port number"))?,
                        };
                        port(n).map(Some)
                    }
                }
            };
            let target = get("target")?.ok_or("a long-form port needs `target`")?;
            let udp = m
                .get(Value::String("protocol".into()))
                .and_then(|p| p.as_str())
                .is_some_and(|p| p.eq_ignore_ascii_case("udp"));
            Ok((get("published")?, target, udp))
        }
        _ => Err("a port is a string like \"HOST:CONTAINER\"".into()),
    }
}

/// Parse and validate a compose file's text into its services, or say what is wrong and where.
pub fn parse(
    text: &str,
    file: &str,
    vars: &std::collections::HashMap<String, String>,
) -> Result<Vec<ServiceFacts>, CheckResult> {
    let id = "compose.file";
    if let Some(line) = too_deep(text, MAX_NESTING) {
        return Err(CheckResult::fail(
            id,
            format!("{file} nests deeper than {MAX_NESTING} levels, which no Compose file needs"),
        )
        .at(format!("{file}:{line}"))
        .hint("a compose file is a few levels deep: services, a service, its keys"));
    }
    let mut value: Value = serde_norway::from_str(text).map_err(|e| {
        let mut r = CheckResult::fail(id, format!("{file} is not valid YAML: {e}"))
            .hint("YAML indents with spaces (never tabs); a key and its value are separated by `: `; list items start with `- `");
        if let Some(loc) = e.location() {
            r = r.at(format!("{file}:{}:{}", loc.line(), loc.column()));
        }
        r
    })?;
    // YAML merge keys (`<<: *defaults`) are part of Compose files: apply them as Compose does.
    value.apply_merge().map_err(|e| {
        CheckResult::fail(
            id,
            format!("{file}: a `<<:` merge key cannot be applied: {e}"),
        )
        .hint("`<<:` takes an alias of a mapping (`<<: *defaults`) or a list of them")
    })?;
    let Value::Mapping(top) = &value else {
        return Err(CheckResult::fail(
            id,
            format!("{file} must be a mapping with a `services:` key"),
        ));
    };
    for k in top.keys() {
        let k = k.as_str().unwrap_or_default();
        if !TOP_KEYS.contains(&k) && !k.starts_with("x-") {
            let mut r = CheckResult::fail(id, format!("`{k}` is not a Compose key (top level)"))
                .found(k.to_string());
            if let Some(s) = suggest(k, &TOP_KEYS) {
                r = r.hint(format!("did you mean `{s}`?"));
            }
            if let Some(l) = line_of(text, k) {
                r = r.at(format!("{file}:{l}"));
            }
            return Err(r);
        }
    }
    let Some(Value::Mapping(services)) = top.get(Value::String("services".into())) else {
        return Err(
            CheckResult::fail(id, format!("{file} has no `services:` mapping"))
                .hint("add `services:` with one service under it, e.g. `web:`"),
        );
    };
    let mut out = Vec::new();
    for (name, svc) in services {
        let name = name.as_str().unwrap_or_default().to_string();
        let Value::Mapping(svc) = svc else {
            return Err(CheckResult::fail(
                id,
                format!("services.{name} must be a mapping of keys (build, ports, ...)"),
            )
            .hint("indent the service's keys under its name"));
        };
        let mut facts = ServiceFacts {
            name: name.clone(),
            build_context: None,
            image: None,
            ports: vec![],
            udp_ports: vec![],
        };
        for (k, v) in svc {
            let k = k.as_str().unwrap_or_default();
            if !SERVICE_KEYS.contains(&k) && !MORE_SERVICE_KEYS.contains(&k) && !k.starts_with("x-")
            {
                let mut r = CheckResult::fail(
                    id,
                    format!("services.{name}.{k}: `{k}` is not a service key"),
                )
                .found(format!("services.{name}.{k}"));
                if let Some(s) = suggest(k, &SERVICE_KEYS) {
                    r = r
                        .expected(format!("services.{name}.{s}"))
                        .hint(format!("did you mean `{s}`?"));
                }
                if let Some(l) = line_of(text, k) {
                    r = r.at(format!("{file}:{l}"));
                }
                return Err(r);
            }
            match k {
                "build" => {
                    facts.build_context = match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Mapping(m) => Some(
                            m.get(Value::String("context".into()))
                                .and_then(|c| c.as_str())
                                .unwrap_or(".")
                                .to_string(),
                        ),
                        _ => {
                            return Err(CheckResult::fail(
                                id,
                                format!(
                                "services.{name}.build must be a path or a mapping with `context`"
                            ),
                            ))
                        }
                    }
                }
                "image" => facts.image = v.as_str().map(String::from),
                "ports" => {
                    let Value::Sequence(items) = v else {
                        return Err(CheckResult::fail(id, format!("services.{name}.ports must be a list"))
                            .hint("write it as a list: `ports:` then `  - \"HOST:CONTAINER\"` on the next line"));
                    };
                    for item in items {
                        let (host, container, udp) = parse_port(item, vars).map_err(|e| {
                            CheckResult::fail(id, format!("services.{name}.ports: {e}"))
                                .hint("use \"HOST:CONTAINER\", quoted, e.g. \"8000:8000\"")
                        })?;
                        if udp {
                            facts.udp_ports.push((host, container));
                        } else {
                            facts.ports.push((host, container));
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(facts);
    }
    if out.is_empty() {
        return Err(CheckResult::fail(id, "`services:` is empty")
            .hint("define one service, e.g. `web:` with `build: .` and `ports:`"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "version: \"3.8\"\nservices:\n  web:\n    build: .\n    ports:\n      - \"5000:5000\"\n";

    #[test]
    fn the_lesson_file_parses() {
        let s = parse(GOOD, "docker-compose.yml", &Default::default()).unwrap();
        assert_eq!(s[0].name, "web");
        assert_eq!(s[0].build_context.as_deref(), Some("."));
        assert_eq!(s[0].ports, vec![(Some(5000), 5000)]);
    }

    #[test]
    fn port_forms() {
        let s = parse("services:\n  web:\n    build: .\n    ports:\n      - 5000\n      - target: 5000\n        published: 5000\n      - \"127.0.0.1:8080:5000/tcp\"\n", "c.yml", &Default::default()).unwrap();
        assert_eq!(
            s[0].ports,
            vec![(None, 5000), (Some(5000), 5000), (Some(8080), 5000)]
        );
    }

    #[test]
    fn unknown_keys_are_named_by_path_with_a_suggestion() {
        let r = parse(
            &GOOD.replace("ports:", "port:"),
            "docker-compose.yml",
            &Default::default(),
        )
        .unwrap_err();
        assert!(r.message.contains("services.web.port"), "{}", r.message);
        assert_eq!(r.hint.as_deref(), Some("did you mean `ports`?"));
        assert_eq!(r.location.as_deref(), Some("docker-compose.yml:5"));
    }

    #[test]
    fn tabs_give_a_yaml_error_with_a_position() {
        let r = parse(
            "services:\n\tweb:\n",
            "docker-compose.yml",
            &Default::default(),
        )
        .unwrap_err();
        assert!(r.message.contains("not valid YAML"), "{}", r.message);
        assert!(r.location.unwrap().starts_with("docker-compose.yml:2"));
    }

    #[test]
    fn compose_reads_merge_keys_interpolation_and_refuses_bad_ports() {
        let vars = |pairs: &[(&str, &str)]| -> std::collections::HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let merged = "x-base: &base\n  build: .\nservices:\n  web:\n    <<: *base\n    ports:\n      - \"5000:5000\"\n";
        let s = parse(merged, "c.yml", &vars(&[])).unwrap();
        assert_eq!(s[0].build_context.as_deref(), Some("."));
        let interp = GOOD.replace("\"5000:5000\"", "\"${PORT:-5000}:5000\"");
        let s = parse(&interp, "c.yml", &vars(&[])).unwrap();
        assert_eq!(s[0].ports, vec![(Some(5000), 5000)]);
        let s = parse(&interp, "c.yml", &vars(&[("PORT", "8080")])).unwrap();
        assert_eq!(s[0].ports, vec![(Some(8080), 5000)]);
        // GOOD with one text replaced, no variables set.
        let good_but = |from: &str, to: &str| parse(&GOOD.replace(from, to), "c.yml", &vars(&[]));
        let e = good_but("5000:5000", "70536:5000").unwrap_err();
        assert!(e.message.contains("not a port"), "{e:?}");
        let e = good_but("- \"5000:5000\"", "- 70536").unwrap_err();
        assert!(e.message.contains("not a port"), "{e:?}");
        let s = good_but("5000:5000", "5000:5000/udp").unwrap();
        assert!(s[0].ports.is_empty());
        assert_eq!(s[0].udp_ports, vec![(Some(5000), 5000)]);
        assert_eq!(interpolate("$$HOME", &vars(&[])).unwrap(), "$HOME");
        assert!(interpolate("${X:?set X}", &vars(&[]))
            .unwrap_err()
            .contains("set X"));
        assert_eq!(
            interpolate("${X-a}${Y:-b}", &vars(&[("Y", "")])).unwrap(),
            "ab"
        );
    }

    #[test]
    fn deep_nesting_is_refused_in_linear_time() {
        let deep = format!("services: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let start = std::time::Instant::now();
        let e = parse(&deep, "c.yml", &Default::default()).unwrap_err();
        assert!(e.message.contains("nests deeper"), "{e:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
