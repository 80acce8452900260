"""The MQTT protocol of the fleet: topic tree, envelope + encoding, per-kind validation.

See docs/protocol.md for the full description.
"""
from cloud_sync.protocol.codec import SCHEMA_VERSION, decode, encode, envelope, new_message_id
from cloud_sync.protocol.topics import (DEFAULT_FLEET, DEFAULT_ROOT, PROTOCOL_VERSION, Route,
                                        TopicTree, check_device_id)
from cloud_sync.protocol.rejections import RejectionCounter
from cloud_sync.protocol.validate import (REASONS, SIZE_LIMITS, VALIDATORS, ProtocolError, parse_message,
                                          validate_envelope)

__all__ = ["SCHEMA_VERSION", "decode", "encode", "envelope", "new_message_id", "DEFAULT_FLEET",
           "DEFAULT_ROOT", "PROTOCOL_VERSION", "Route", "TopicTree", "check_device_id", "REASONS",
           "SIZE_LIMITS", "VALIDATORS", "ProtocolError", "RejectionCounter", "parse_message",
           "validate_envelope"]
