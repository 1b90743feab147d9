"""Settings of the tm server in a test stack (tests/support/stack.py): settings.test with
the rate limits out of the way.

The integration and browser tests of the real-time path post hundreds of messages from
one address (127.0.0.1) and a few participants within a minute; the production rates
(10 posts a minute per participant, 120 per address) would answer most of them 429.
Rate limiting has its own tests (tests/tm); here it would only hide what is measured.
"""

from settings.test import *  # noqa: F403

TM_RATE_POST_PER_PARTICIPANT = "100000/m"
TM_RATE_POST_PER_CLIENT = "100000/m"
TM_RATE_JOIN_PER_CLIENT = "100000/m"
TM_RATE_CREATE_ROOM_PER_CLIENT = "100000/h"
TM_RATE_AUTH_PER_CLIENT = "100000/m"
