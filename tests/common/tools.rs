//! The outside programs the tests drive, and the Debian package each comes from.
//!
//! A test that needs one calls [`tool`] before it starts anything: a missing program
//! fails the test at once with the package to install (`scripts/test` installs them all),
//! never a skip and never a hang. The list of programs and packages is
//! `tests/programs.txt`.

use std::path::PathBuf;
use std::process::Command;

/// `tests/programs.txt`: each program the tests run, with the Debian package that ships
/// it (the same list `scripts/test` installs from).
const PROGRAMS: &str = include_str!("../programs.txt");

/// The Debian package that ships `program`, from `tests/programs.txt`.
pub fn package_of(program: &str) -> &'static str {
    PROGRAMS
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            Some((fields.next()?, fields.next()?))
        })
        .find(|(p, _)| *p == program)
        .map(|(_, package)| package)
        .unwrap_or_else(|| panic!("{program} is not listed in tests/programs.txt: add it with its Debian package"))
}

/// Where `program` is on `PATH`, if it is.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|file| file.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// A command for `program`, or a test failure naming the Debian package to install.
pub fn tool(program: &str) -> Command {
    let package = package_of(program);
    match find_on_path(program) {
        Some(file) => Command::new(file),
        None => panic!(
            "{program} is not installed (not on PATH): install the Debian package {package} \
             (`apt-get install {package}`), or run the tests with scripts/test, which installs it"
        ),
    }
}

/// Fails the test now, naming the Debian packages, unless every one of `programs` is on
/// `PATH`. Tests call it first, before they start a server.
pub fn require(programs: &[&str]) {
    let missing: Vec<String> = programs
        .iter()
        .filter(|p| find_on_path(p).is_none())
        .map(|p| format!("{p} (Debian package {})", package_of(p)))
        .collect();
    assert!(
        missing.is_empty(),
        "not installed (not on PATH): {}; install them with apt-get, or run the tests with scripts/test, \
         which installs them",
        missing.join(", ")
    );
}
