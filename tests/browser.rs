//! A real browser opens the built book: headless Chromium from the distribution, driven through
//! ChromeDriver's WebDriver API. The first chapters and an exercise page render with their
//! diagrams, the console has no errors, and search finds "tag"; every diagram keeps its text at
//! 12 CSS px or more at a phone's width in both themes; the presenter view follows the projected
//! page. Screenshots are kept in `target/tmp/book-screenshots/` as test artifacts.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::book::{build_book, diagrams, svg_width_and_smallest_font};

/// Serve a directory over HTTP on a free loopback port, from a thread.
fn serve(root: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                }
                let path = request
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .split(['?', '#'])
                    .next()
                    .unwrap()
                    .to_string();
                let mut file = root.join(path.trim_start_matches('/'));
                if file.is_dir() {
                    file = file.join("index.html");
                }
                let mut s = &stream;
                match std::fs::read(&file) {
                    Ok(body) => {
                        let ct = match file.extension().and_then(|e| e.to_str()) {
                            Some("html") => "text/html; charset=utf-8",
                            Some("js") => "application/javascript",
                            Some("css") => "text/css",
                            Some("svg") => "image/svg+xml",
                            Some("png") => "image/png",
                            Some("woff2") => "font/woff2",
                            Some("json") => "application/json",
                            _ => "application/octet-stream",
                        };
                        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                        let _ = s.write_all(&body);
                    }
                    Err(_) => {
                        let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            });
        }
    });
    port
}

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver and the Chromium it started share a process group: end them all.
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Send a WebDriver command; the answer's `value`.
async fn webdriver_value(request: reqwest::RequestBuilder) -> Value {
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    answer["value"].clone()
}

impl Driver {
    pub async fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed by scripts/setup-book.sh");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900"
            ]}
        }}});
        let mut d = Driver {
            child,
            base,
            session: String::new(),
            http,
        };
        let v = d.post("/session", caps).await;
        d.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        d
    }

    pub async fn quit(&self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        webdriver_value(self.http.post(url).json(&body)).await
    }

    pub async fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        webdriver_value(self.http.get(url)).await
    }

    pub async fn open(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    pub async fn js(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Console messages at level SEVERE since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let logs = self.post("/se/log", json!({"type": "browser"})).await;
        logs.as_array()
            .map(|a| {
                a.iter()
                    .filter(|l| l["level"] == "SEVERE")
                    .map(|l| l["message"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn screenshot(&self, to: &Path) {
        let b64 = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(to, png).unwrap();
    }

    /// Open `url` and wait until `script` is true on it.
    pub async fn open_until(&self, url: &str, script: &str) {
        self.open(url).await;
        self.wait_for(script, &format!("`{script}` on {url}")).await;
    }

    /// Wait until a script returns true.
    pub async fn wait_for(&self, script: &str, what: &str) {
        let start = Instant::now();
        loop {
            if self.js(script).await == json!(true) {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const IMAGES_LOADED: &str = "const imgs = [...document.querySelectorAll('main img')]; return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs mdBook and Chromium: scripts/test.sh"]
async fn a_real_browser_renders_the_book_and_searches_it() {
    let book = build_book();
    let port = serve(book.path().to_path_buf());
    let site = format!("http://127.0.0.1:{port}");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("book-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let d = Driver::start().await;

    d.open(&format!("{site}/index.html")).await;
    let title = d.js("return document.title").await;
    assert!(title.as_str().unwrap().contains("SRE Lab"), "{title}");
    let errors = d.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors on the first page: {errors:?}"
    );

    // A chapter with diagrams: every image loads and has a size.
    d.open_until(&format!("{site}/concepts.html"), IMAGES_LOADED)
        .await;
    let alts = d
        .js("return [...document.querySelectorAll('main img')].map(i => i.alt.length)")
        .await;
    assert!(
        alts.as_array()
            .unwrap()
            .iter()
            .all(|n| n.as_u64().unwrap() > 20),
        "every diagram has alt text: {alts}"
    );
    d.screenshot(&shots.join("concepts.png")).await;

    // An exercise page: the generated box and its diagram render.
    d.open_until(&format!("{site}/run.html"), IMAGES_LOADED)
        .await;
    let exercise = d
        .js("const e = document.querySelector('.exercise'); return e ? e.innerText : null")
        .await;
    let text = exercise.as_str().expect("run.html has an exercise box");
    assert!(text.contains("lab check day11 --step run"), "{text}");
    d.screenshot(&shots.join("run-exercise.png")).await;

    // The dark theme: diagrams still load (they carry their own light card).
    d.js("localStorage.setItem('mdbook-theme', 'navy'); return true")
        .await;
    d.open_until(&format!("{site}/run.html"), IMAGES_LOADED)
        .await;
    let dark = d.js("return document.documentElement.className").await;
    assert!(dark.as_str().unwrap().contains("navy"), "{dark}");
    d.screenshot(&shots.join("run-exercise-dark.png")).await;
    let errors = d.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // The book's own styles, in the dark theme and then the light one: expected output has its
    // caption and its own border, Dockerfile blocks are highlighted.
    for theme in ["navy", "light"] {
        d.js(&format!(
            "localStorage.setItem('mdbook-theme', '{theme}'); return true"
        ))
        .await;
        d.open_until(&format!("{site}/dockerfile.html"), "return document.querySelectorAll('code.language-dockerfile .hljs-keyword').length >= 10").await;
        let caption = d
            .js("const p = [...document.querySelectorAll('pre')].find(p => p.querySelector('code.expect')); return p ? getComputedStyle(p, '::before').content : null")
            .await;
        assert!(
            caption.as_str().unwrap_or("").contains("expected output"),
            "{theme}: {caption}"
        );
        let borders = d
            .js("const e = [...document.querySelectorAll('pre')].find(p => p.querySelector('code.expect')); const r = [...document.querySelectorAll('pre')].find(p => p.querySelector('code.run')); return [getComputedStyle(e).borderLeftColor, getComputedStyle(r).borderLeftColor]")
            .await;
        assert_ne!(
            borders[0], borders[1],
            "{theme}: output and commands look different"
        );
        d.screenshot(&shots.join(format!("dockerfile-{theme}.png")))
            .await;
    }
    // A phone's width: the troubleshooting table scrolls inside itself, the page does not.
    d.post("/window/rect", json!({"width": 390, "height": 844}))
        .await;
    d.open_until(
        &format!("{site}/troubleshooting.html"),
        "return document.querySelectorAll('table').length > 0",
    )
    .await;
    let fits = d
        .js("const t = document.querySelector('.content table'); const r = t.getBoundingClientRect(); return r.right <= window.innerWidth + 1 && document.documentElement.scrollWidth <= window.innerWidth + 1")
        .await;
    assert_eq!(fits, json!(true), "the table fits a 390 px screen");
    d.screenshot(&shots.join("troubleshooting-phone.png")).await;
    d.post("/window/rect", json!({"width": 1280, "height": 900}))
        .await;
    let errors = d.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:?}");

    // Every diagram at 1280 and 390 px, in both themes: its smallest text is at least 12 CSS
    // px as rendered, and the page itself never scrolls sideways (a wide diagram scrolls in its
    // own box).
    let all = diagrams();
    let mut pages: Vec<&str> = all.iter().map(|d| d.0.as_str()).collect();
    pages.dedup();
    for theme in ["light", "navy"] {
        d.js(&format!(
            "localStorage.setItem('mdbook-theme', '{theme}'); return true"
        ))
        .await;
        for (w, h) in [(1280, 900), (390, 844)] {
            d.post("/window/rect", json!({"width": w, "height": h}))
                .await;
            for page in &pages {
                d.open_until(
                    &format!("{site}/{}", page.replace(".md", ".html")),
                    IMAGES_LOADED,
                )
                .await;
                let sizes = d
                    .js("return [...document.querySelectorAll('main img.diagram')].map(i => [i.getAttribute('src'), i.getBoundingClientRect().width, i.naturalWidth]).concat([['page', document.documentElement.scrollWidth, window.innerWidth]])")
                    .await;
                for row in sizes.as_array().unwrap() {
                    let src = row[0].as_str().unwrap();
                    let (shown, natural) = (row[1].as_f64().unwrap(), row[2].as_f64().unwrap());
                    if src == "page" {
                        assert!(
                            shown <= natural + 1.0,
                            "{page} at {w} px ({theme}) scrolls sideways: {shown} > {natural}"
                        );
                        continue;
                    }
                    let (width, font) =
                        svg_width_and_smallest_font(src.trim_start_matches("images/"));
                    let px = font * shown / width;
                    assert!(
                        px >= 11.95,
                        "{page} at {w} px ({theme}): {src}'s smallest text renders at {px:.1} px ({shown} of {natural} wide)"
                    );
                }
                if w == 390 {
                    d.screenshot(&shots.join(format!(
                        "{}-{theme}-phone.png",
                        page.trim_end_matches(".md")
                    )))
                    .await;
                }
            }
        }
    }
    d.js("localStorage.setItem('mdbook-theme', 'light'); return true")
        .await;
    d.post("/window/rect", json!({"width": 1280, "height": 900}))
        .await;
    let errors = d.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors on the diagram pages: {errors:?}"
    );

    // The presenter view: the menu bar's "Notes" opens a second window with the projected
    // page's speaker notes, and it follows when the projected window moves to another page.
    d.open(&format!("{site}/compose.html")).await;
    let projected = d.get("/window").await;
    let button = d
        .post(
            "/element",
            json!({"using": "css selector", "value": ".presenter-button"}),
        )
        .await;
    let button = button
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no Notes button in the menu bar: {button}"))
        .to_string();
    d.post(&format!("/element/{button}/click"), json!({})).await;
    let start = Instant::now();
    let notes_window = loop {
        let handles = d.get("/window/handles").await;
        if let Some(h) = handles
            .as_array()
            .unwrap()
            .iter()
            .find(|h| **h != projected)
        {
            break h.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no presenter window opened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The notes window shows `page`'s notes (a phrase of them), alone; a screenshot is kept.
    let notes_show = |page: &'static str, phrase: &'static str| {
        let (d, notes_window, shots) = (&d, &notes_window, &shots);
        async move {
            d.post("/window", json!({"handle": notes_window})).await;
            d.wait_for(
                &format!("const v = document.querySelector('#presenter-view'); return location.pathname.endsWith('/{page}.html') && !!v && v.innerText.includes('{phrase}') && getComputedStyle(document.querySelector('#mdbook-sidebar')).display === 'none'"),
                &format!("{page}'s notes alone in the presenter window"),
            )
            .await;
            d.screenshot(&shots.join(format!("presenter-{page}.png")))
                .await;
        }
    };
    notes_show("compose", "command line turned into a file").await;
    d.post("/window", json!({"handle": projected})).await;
    d.open(&format!("{site}/editable.html")).await;
    notes_show("editable", "editable is for development on the host").await;
    d.post("/window", json!({"handle": projected})).await;
    let errors = d.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors with the presenter view: {errors:?}"
    );

    // Search finds "tag", and the tagging chapter among the results.
    d.open_until(
        &format!("{site}/index.html?search=tag"),
        "return document.querySelectorAll('#mdbook-searchresults li').length > 0",
    )
    .await;
    let hits = d.js("return [...document.querySelectorAll('#mdbook-searchresults li a')].map(a => a.getAttribute('href'))").await;
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap_or("").starts_with("tag.html")),
        "{hits}"
    );
    let errors = d.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors during search: {errors:?}"
    );
    d.quit().await;
}
