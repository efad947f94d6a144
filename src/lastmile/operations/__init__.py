"""The day as it happens: order lifecycle, dispatch rules, loading lists.

Pure logic over plain values plus a clock; no I/O. The service persists what
these functions decide.
"""

from lastmile.operations.lifecycle import InvalidTransition as InvalidTransition
from lastmile.operations.lifecycle import OrderEvent as OrderEvent
from lastmile.operations.lifecycle import OrderStatus as OrderStatus
from lastmile.operations.lifecycle import allowed_events as allowed_events
from lastmile.operations.lifecycle import next_status as next_status
from lastmile.operations.loading import LoadingEntry as LoadingEntry
from lastmile.operations.loading import LoadingItem as LoadingItem
from lastmile.operations.loading import LoadingList as LoadingList
from lastmile.operations.loading import LoadingStop as LoadingStop
from lastmile.operations.loading import build_loading_list as build_loading_list

__all__ = [
    "InvalidTransition",
    "LoadingEntry",
    "LoadingItem",
    "LoadingList",
    "LoadingStop",
    "OrderEvent",
    "OrderStatus",
    "allowed_events",
    "build_loading_list",
    "next_status",
]
