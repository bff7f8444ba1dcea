//! A strict JSON document model: keeps object members in order, with duplicates
//! detectable, so the firewall reads exactly what any model server could read.
//! (Placeholder: replaced by the payload implementation.)

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number as written (never converted, so nothing is lost).
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in document order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// RFC 6901 lookup (`/messages/0/role`); `""` is the root.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        let _ = pointer;
        None
    }

    /// The first member named `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}
