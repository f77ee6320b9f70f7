//! Headless Chromium (Debian's `chromium`) rendering a page of the admin listener.

use std::path::Path;
use std::sync::atomic::Ordering;

/// The page as chromium renders it once its script has drawn the status: the DOM after
/// the scripts ran, and a screenshot at `width` x `height` into `shot`.
pub fn render(url: &str, shot: &Path, width: u32, height: u32) -> String {
    // A profile of its own: tests render at the same time, and chromium locks its profile.
    static RENDERS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = RENDERS.fetch_add(1, Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!("linedns-chromium-{}-{n}", std::process::id()));
    let run = |extra: &[String]| {
        let out = super::tools::tool("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--virtual-time-budget=4000", "--timeout=15000"])
            .args(extra)
            .arg(url)
            .output()
            .expect("chromium");
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = run(&["--dump-dom".into()]);
    run(&[format!("--window-size={width},{height}"), format!("--screenshot={}", shot.display())]);
    let _ = std::fs::remove_dir_all(&profile);
    let png = std::fs::read(shot).unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a screenshot at {}", shot.display());
    assert!(dom.contains("data-loaded=\"yes\""), "the page drew the status:\n{dom}");
    dom
}
