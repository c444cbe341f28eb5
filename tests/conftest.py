import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property tests run a fixed, moderate number of examples so the suite stays
# fast and reproducible on a 2-core machine.
settings.register_profile(
    "sklhash",
    max_examples=int(os.environ.get("SKLHASH_HYPOTHESIS_EXAMPLES", 60)),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("sklhash")


@pytest.fixture
def global_random_seed():
    return 0


@pytest.fixture
def rng():
    return np.random.default_rng(0)
