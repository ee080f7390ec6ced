use super::Env;
use super::report::Section;

pub fn run(_b: &Env<'_>) -> anyhow::Result<Section> {
    anyhow::bail!("not written yet")
}
