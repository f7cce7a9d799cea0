"""Bench-only settings: Charla's settings with the core (list-based)
``RedisChannelLayer`` instead of ``RedisPubSubChannelLayer``, to compare the
two under the same load. Used by ``bench/realtime.py --compare``."""

from config.settings import *  # noqa: F403
from config.settings import REDIS_URL, env

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [REDIS_URL],
            "prefix": env.str("CHANNEL_PREFIX", default="charla"),
            "capacity": 1000,
            "expiry": 60,
        },
    }
}
