//! The self-contained `index.html`: minijinja templates kept beside this
//! file, inline CSS and inline SVG, no scripts and nothing fetched.
mod context;
mod evidence;
mod io;
mod render;
mod scale;
mod warm;

pub use context::Page;
pub use render::{render_page, TemplateError};

pub(crate) use context::{page, Charts, ImageRow, KernelChart};
pub(crate) use render::METHODOLOGY;
