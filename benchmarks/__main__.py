"""python -m benchmarks [NAME ...] [--quick]

Runs against a database of its own (``<name>_bench``, kept between runs), never the
development data.
"""

import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all), e.g. api_stack")
    parser.add_argument("--quick", action="store_true", help="a tenth of the samples: a smoke run, not figures")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "veritas.settings")
    os.environ["DEBUG"] = "false"  # measure what production runs
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 50)
    os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, setup_test_environment

    from benchmarks.harness import Harness

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = settings.DATABASES["default"]["NAME"] + "_bench"
    setup_test_environment(debug=False)
    setup_databases(verbosity=0, interactive=False, keepdb=True, serialized_aliases=set())

    here = Path(__file__).parent
    available = sorted(
        m.name.removeprefix("bench_") for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )
    chosen = args.names or available
    unknown = set(chosen) - set(available)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; available: {', '.join(available)}")

    harness = Harness(quick=args.quick)
    for name in chosen:
        harness.current = name
        print(f"running {name}…", file=sys.stderr, flush=True)
        importlib.import_module(f"benchmarks.bench_{name}").run(harness)

    print(harness.table())
    path = harness.write_json()
    print(f"\nwritten to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    missed = [c for c in harness.comparisons if c.met is False]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
