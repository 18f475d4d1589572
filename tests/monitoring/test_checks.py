from monitoring.checks import evaluation_interval_fits_the_window


def test_an_interval_longer_than_the_window_is_warned_about(settings):
    settings.MONITORING_HEALTH = {**settings.MONITORING_HEALTH, "WINDOW_MINUTES": 15}
    settings.MONITORING_HEALTH_INTERVAL_SECONDS = 16 * 60

    warnings = evaluation_interval_fits_the_window(None)

    assert [warning.id for warning in warnings] == ["monitoring.W001"]


def test_the_defaults_pass(settings):
    assert evaluation_interval_fits_the_window(None) == []
