import time, pytest, cProfile, pstats
from tests.conversations.wsutil import widget_socket, close, realtime_env  # noqa
pytestmark = pytest.mark.django_db(transaction=True)

@pytest.fixture
def prof():
    yield
    
async def test_a(contact):
    v = await widget_socket(contact)
    await close(v)
    
async def test_b(contact):
    v = await widget_socket(contact)
    await close(v)
