"""Settings for the test suite: the application's own, in development mode.

Development mode keeps plain static storage (no collectstatic manifest) and no HTTPS redirect
for the test client; pytest-django still runs every test with DEBUG off.
"""

import os

os.environ.setdefault("DEBUG", "true")

from erpsync.settings import *  # noqa: F403

# Factories create many users; PBKDF2's deliberate slowness would dominate the suite.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AXES_VERBOSE = False  # its per-login log lines drown a failing test's output

# Rate-limit counts are keyed by user and token ids, which start again in every new test
# database: a run of its own keeps them apart from the last run's and another worktree's.
CACHES["default"]["KEY_PREFIX"] = f"erpsync-test-{os.getpid()}-{os.urandom(4).hex()}"  # noqa: F405
