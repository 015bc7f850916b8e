"""Just enough protobuf wire format to write a Perfetto trace by hand."""

import struct


def varint(n):
    if n < 0:
        n += 1 << 64        # int64 fields: two's complement, 10 bytes
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def uint(field, n):
    return key(field, 0) + varint(n)


def double(field, x):
    return key(field, 1) + struct.pack("<d", x)


def blob(field, data):
    if isinstance(data, str):
        data = data.encode()
    return key(field, 2) + varint(len(data)) + data


message = blob
