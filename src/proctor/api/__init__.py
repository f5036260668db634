"""The gateway's HTTP API: OAuth token endpoint, browser and device sign-in, whoami.

Routes are mounted on the HTTP listener's aiohttp application by ``server.http``. Handlers
run the (synchronous) identity and store code in worker threads.
"""
