"""pbwire.py — the protobuf wire format by hand, for the seed scripts of fuzz/
(no protobuf module needed): a varint, a varint field, a length-delimited
field."""


def varint(n):
    """n as a base-128 varint; a negative n as its 64-bit two's complement, as protobuf writes int64."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vint(field, n):
    return varint(field << 3) + varint(n)


def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload
