pub mod text;
pub mod url;
