from tests.helpers import run_manage

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-0123456789abcdefghij",
    "ALLOWED_HOSTS": "veritas.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://veritas.example.org",
    "STATICFILES_BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
}


def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = run_manage("check", "--deploy", "--fail-level", "DEBUG", env=PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_complains_about_development_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "true"})

    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on in deployment
