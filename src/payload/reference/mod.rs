//! The extraction as it was before the tape parser, the reference of the
//! differential tests (`tests` in [`super::extract`]). Test builds only.

#![allow(dead_code)] // Kept verbatim: not every item is compared (and none on wasm).

pub mod extract;
pub mod json;
