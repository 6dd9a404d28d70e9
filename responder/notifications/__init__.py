"""Notifications: messages to on-call, the channels that carry them, and the outbox that delivers.

`messages` renders what a message says; `queue` puts a message for each channel in the outbox;
`channels` holds each channel kind's settings beside its sender; `outbox` delivers, in order,
with retries. Import the submodule you need: the settings import `channels`, which must not
import the rest.
"""
