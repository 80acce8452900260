"""Device side of over-the-air model deployment: download, verify, stage, gate, roll back.

`manifest` (signed description of a model), `download` (chunked, resumable), `store`
(models and job journal on disk), `health` (the health gate), `deployer` (the state
machine, no MQTT), `component` (the agent component that feeds it deploy requests).
"""
