"""Every message on the OSB bus: pydantic contracts, the topic registry, the CloudEvents codec."""

from osb_contracts._base import Contract, Message, Personal, one_line
from osb_contracts.codec import ContractError, Envelope, KafkaRecord, decode, encode, opened
from osb_contracts.topics import DLQ_SUFFIX, TOPICS, Topic, all_topic_specs, message_type_by_name

__all__ = [
    "DLQ_SUFFIX",
    "TOPICS",
    "Contract",
    "ContractError",
    "Envelope",
    "KafkaRecord",
    "Message",
    "Personal",
    "Topic",
    "all_topic_specs",
    "decode",
    "encode",
    "message_type_by_name",
    "one_line",
    "opened",
]
