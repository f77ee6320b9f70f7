//! Errors of loading and compiling rules and geo data.
//!
//! Every error names the place it comes from — file, line and column where known, the rule
//! it belongs to — and the offending value, so an operator can go straight to it:
//! `geo/chinanet.txt:4012: line "telecom": bad CIDR "1.2.3.4/8": host bits set`.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where an input error is: a file and, where known, a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file, as the operator named it (or as resolved against the geo-data root).
    pub file: PathBuf,
    /// 1-based line number.
    pub line: Option<u64>,
    /// 1-based column number.
    pub column: Option<u64>,
}

impl Place {
    /// A whole file.
    pub fn file(file: &Path) -> Self {
        Place { file: file.to_path_buf(), line: None, column: None }
    }

    /// A line of a file.
    pub fn line(file: &Path, line: u64) -> Self {
        Place { file: file.to_path_buf(), line: Some(line), column: None }
    }

    /// A line and column of a file.
    pub fn at(file: &Path, line: u64, column: u64) -> Self {
        Place { file: file.to_path_buf(), line: Some(line), column: Some(column) }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// One error in the rules or the data they name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Where it is.
    pub place: Place,
    /// The rule it belongs to, e.g. `line "telecom"` or `zone example.com, record www A`.
    pub rule: Option<String>,
    /// What is wrong, naming the bad value.
    pub message: String,
}

impl ConfigError {
    /// An error at `place` with no rule context.
    pub fn new(place: Place, message: impl Into<String>) -> Self {
        ConfigError { place, rule: None, message: message.into() }
    }

    /// Adds the rule this error belongs to (keeps a rule already set: it is more precise).
    pub fn in_rule(mut self, rule: impl Into<String>) -> Self {
        if self.rule.is_none() {
            self.rule = Some(rule.into());
        }
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.place)?;
        if let Some(rule) = &self.rule {
            write!(f, "{rule}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// All errors found while compiling one rule set (at least one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileErrors(pub Vec<ConfigError>);

impl CompileErrors {
    /// Whether any error's text contains `needle` (for tests and tools).
    pub fn mentions(&self, needle: &str) -> bool {
        self.0.iter().any(|e| e.to_string().contains(needle))
    }
}

impl From<ConfigError> for CompileErrors {
    fn from(e: ConfigError) -> Self {
        CompileErrors(vec![e])
    }
}

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileErrors {}
