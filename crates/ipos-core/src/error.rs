//! The one error type of the core. Each error carries a stable `code` that the binding turns into
//! the JS error's `code`, and a message that names the key path in JS form and says what is wrong.

/// Frame is not valid JSON, or has the wrong shape (missing fields, wrong types, unknown `t`).
pub const BAD_FRAME: &str = "ERR_IPOS_BAD_FRAME";
/// Protocol version other than 1.
pub const VERSION: &str = "ERR_IPOS_VERSION";
/// Frame longer than `Limits::max_frame_bytes`.
pub const FRAME_TOO_LARGE: &str = "ERR_IPOS_FRAME_TOO_LARGE";
/// Value nested deeper than `Limits::max_depth`.
pub const TOO_DEEP: &str = "ERR_IPOS_TOO_DEEP";
/// Malformed encoded value (bad tag, bad payload, duplicate Map keys, misplaced hole, ...).
pub const BAD_VALUE: &str = "ERR_IPOS_BAD_VALUE";
/// `__proto__`, `constructor` or `prototype` used as an object key, path segment or field name.
pub const RESERVED_KEY: &str = "ERR_IPOS_RESERVED_KEY";
/// A function value while `Limits::functions` is off.
pub const FUNCTIONS_DISABLED: &str = "ERR_IPOS_FUNCTIONS_DISABLED";
/// A path that does not lead to a container the op can act on.
pub const BAD_PATH: &str = "ERR_IPOS_BAD_PATH";
/// An index, length or splice range outside what the protocol allows.
pub const OUT_OF_RANGE: &str = "ERR_IPOS_OUT_OF_RANGE";
/// A batch that would pass a resource limit: an array longer than `maxArrayLength`, or more
/// holes than one batch may make.
pub const LIMIT: &str = "ERR_IPOS_LIMIT";
/// An op on a field that does not exist.
pub const UNKNOWN_FIELD: &str = "ERR_IPOS_UNKNOWN_FIELD";
/// A frame arriving out of order or from the wrong direction.
pub const BAD_SEQUENCE: &str = "ERR_IPOS_BAD_SEQUENCE";
/// A batch rejected because a concurrent change removed what it referred to.
pub const CONFLICT: &str = "ERR_IPOS_CONFLICT";

/// An error of the core: a stable `ERR_IPOS_*` code plus a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CoreError {
    /// One of the `ERR_IPOS_*` constants of this module.
    pub code: &'static str,
    /// What went wrong, naming the key path in JS form (`list[3].done`).
    pub message: String,
}

impl CoreError {
    /// Builds an error from a code constant and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        CoreError {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for `ERR_IPOS_BAD_FRAME`.
    pub fn bad_frame(message: impl Into<String>) -> Self {
        Self::new(BAD_FRAME, message)
    }

    /// Shorthand for `ERR_IPOS_BAD_SEQUENCE`.
    pub fn bad_sequence(message: impl Into<String>) -> Self {
        Self::new(BAD_SEQUENCE, message)
    }
}

/// Keys that would reach an object's prototype machinery in JS and so never become own keys.
pub fn is_reserved(key: &str) -> bool {
    matches!(key, "__proto__" | "constructor" | "prototype")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_code_and_message() {
        let e = CoreError::new(BAD_PATH, "`a.b`: no such key");
        assert_eq!(e.to_string(), "ERR_IPOS_BAD_PATH: `a.b`: no such key");
        assert!(is_reserved("__proto__") && is_reserved("constructor") && is_reserved("prototype"));
        assert!(!is_reserved("proto"));
    }
}
