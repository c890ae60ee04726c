//! Object keys, share scopes and the mint request body: the rules of what may
//! be shared. Pure functions, no I/O (DESIGN §1, §4).

pub mod key;
pub mod request;
pub mod scope;

pub use key::{KeyError, ObjectKey};
pub use request::{MintRequest, MintRequestError};
pub use scope::{Scope, ShareType};
