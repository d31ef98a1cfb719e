//! Shared by the integration tests.

/// Snapshot settings every test file uses: snapshots in `tests/snapshots`, named by case only.
#[must_use]
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings
}
