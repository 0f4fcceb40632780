//! Rendering the page: the template, its stylesheet and the methodology it
//! carries.
use super::Page;

/// docs/METHODOLOGY.md, embedded so the self-contained page carries it.
pub(crate) const METHODOLOGY: &str = include_str!("../../../docs/METHODOLOGY.md");

/// The page template.
const INDEX: &str = include_str!("index.html");
/// The stylesheet, inlined into the page.
const STYLE: &str = include_str!("style.css");

/// Rendering the page template failed.
#[derive(Debug, thiserror::Error)]
#[error("rendering the HTML template failed")]
pub struct TemplateError(#[from] minijinja::Error);

/// Renders the page.
pub fn render_page(page: &Page) -> Result<String, TemplateError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // The .html name turns on HTML auto-escaping; charts are marked safe.
    env.add_template("index.html", INDEX)?;
    let tmpl = env.get_template("index.html")?;
    Ok(tmpl.render(minijinja::context! { page => minijinja::value::Serde(page), style => STYLE })?)
}
