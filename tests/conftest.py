import pytest
import torch


@pytest.fixture(autouse=True)
def _small_threads():
    """Tests are tiny: one thread avoids oversubscribing the 2 CI cores when pytest-xdist runs two workers."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
