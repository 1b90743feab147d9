"""What tm's services share without Django: the start of the contract package that
issue 10 grows (events, signing and the aiohttp service shell move here). For now,
the service logging that keeps client addresses out of every service's log."""
