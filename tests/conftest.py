import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread per test (see the root conftest.py: two xdist workers share two cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
