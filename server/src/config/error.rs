//! Configuration errors: each one names the file and, where there is one, the line.
//!
//! Loading collects every error before failing, so an operator fixes a file in one pass.

use std::fmt;

/// One problem in a configuration or routes file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file, as it was named on the command line or in the config.
    pub file: String,
    /// The 1-based line, when the problem is on one line.
    pub line: Option<usize>,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl ConfigError {
    /// A problem with the file as a whole (missing, unreadable, too large).
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_owned(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found while loading, in file order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// A place in a file, to build errors for it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Located<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: usize,
}

impl<'a> Located<'a> {
    pub(crate) fn new(file: &'a str, line: usize) -> Self {
        Located { file, line }
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            line: Some(self.line),
            message: message.into(),
        }
    }
}
