"""The record schema: the descriptor set compiled from the shipped netcap.proto.

`netcap.fds` is the serialized `FileDescriptorSet` of `netcap.proto` as the
Rust crate netcap-schema compiles it (its `FILE_DESCRIPTOR_SET`, including the
schema's comments). A Rust test (crates/netcap-schema/tests/python_package.rs)
fails when either shipped file differs from crates/netcap-schema/proto/netcap.proto
and its compilation, and rewrites both with NETCAP_UPDATE_PYTHON_SCHEMA=1. So no
field is written down by hand here, and no protobuf compiler is needed at run time.
"""
from __future__ import annotations

import functools
from importlib import resources

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor

PACKAGE = "netcap"


@functools.lru_cache(maxsize=None)
def file_descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """The schema as a protobuf `FileDescriptorSet`."""
    data = resources.files(__package__).joinpath("netcap.fds").read_bytes()
    return descriptor_pb2.FileDescriptorSet.FromString(data)


def proto_source() -> str:
    """The text of the shipped `netcap.proto`."""
    return resources.files(__package__).joinpath("netcap.proto").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def pool() -> descriptor_pool.DescriptorPool:
    """A descriptor pool holding the schema (not the default pool, so that it
    cannot clash with other code that defines a `netcap` package)."""
    p = descriptor_pool.DescriptorPool()
    for f in file_descriptor_set().file:
        p.Add(f)
    return p


def descriptor(name: str) -> Descriptor:
    """The message descriptor of a record type name (`"TCP"`) or `"Header"`."""
    try:
        return pool().FindMessageTypeByName(f"{PACKAGE}.{name}")
    except KeyError:
        raise KeyError(f"no record type {name!r} in the schema") from None


@functools.lru_cache(maxsize=None)
def message_class(name: str) -> type:
    """The protobuf message class of a record type (`"TCP"`) or `"Header"`."""
    return message_factory.GetMessageClass(descriptor(name))


def type_enum():
    return pool().FindEnumTypeByName(f"{PACKAGE}.Type")


def type_name(number: int) -> str | None:
    """The record type name of a `Type` enum number (`38` → `"TCP"`), or None
    for an unknown number or `NC_Header`."""
    ev = type_enum().values_by_number.get(number)
    if ev is None or number == 0 or not ev.name.startswith("NC_"):
        return None
    return ev.name[len("NC_"):]


def record_types() -> list[str]:
    """The names of every record type, in the order of the `Type` enum."""
    return [ev.name[len("NC_"):] for ev in type_enum().values if ev.number != 0]


def is_repeated(fd: FieldDescriptor) -> bool:
    r = getattr(fd, "is_repeated", None)  # protobuf >= 5.29; `label` is deprecated
    if r is not None:
        return bool(r)
    return fd.label == FieldDescriptor.LABEL_REPEATED


def is_timestamp(fd: FieldDescriptor) -> bool:
    """A 64-bit integer field named `Timestamp*` holds nanoseconds since the epoch."""
    return fd.cpp_type == FieldDescriptor.CPPTYPE_INT64 and fd.name.startswith("Timestamp")
