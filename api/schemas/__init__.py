"""The HTTP API's request and response models: `api/schemas/<domain>.py` beside
`api/routers/<domain>.py`, every model a `base.Schema`. Models an agent already exposes as its
typed output (the copywriter's check, Moments and draft models) are served as they are."""
