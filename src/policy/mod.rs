//! Rule files and plugin configuration, validated and compiled. (Skeleton; being filled in.)

use crate::limits::Limits;
use std::fmt;

/// Enforce (block) or monitor (never block; record what would have happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Enforce,
    Monitor,
}

/// A compiled policy.
#[derive(Debug)]
pub struct Policy {
    pub mode: Mode,
    pub limits: Limits,
}

/// Why a rule file or plugin configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

impl Policy {
    pub fn default_pack() -> Result<Self, PolicyError> {
        Ok(Policy { mode: Mode::Enforce, limits: Limits::default() })
    }
    pub fn from_plugin_config(bytes: &[u8]) -> Result<Self, PolicyError> {
        let _ = bytes;
        Self::default_pack()
    }
    pub fn in_scope(&self, method: &str, path: &str) -> bool {
        let _ = (method, path);
        true
    }
}
