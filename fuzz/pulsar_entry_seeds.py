#!/usr/bin/env python3
"""pulsar_entry_seeds.py — seeds for fuzz_pulsar_entry: each is one flags
byte (bit 0: the harness writes the right checksum) and the bytes a MESSAGE
frame carries after its command.

    fuzz/pulsar_entry_seeds.py tests/fixtures/pulsar fuzz/corpus/pulsar_entry

From the broker's frames of tests/fixtures/pulsar/ (ZSTD and ZLIB batches,
an uncompressed single message, LZ4 that mcdc refuses), and by hand what no
broker sent us: broker entry metadata in front, no checksum (producers
before protocol v6), a marker, a record cut out by compaction, a ZLIB
single message. Protobuf is written by hand; field numbers are those of
src/proto/pulsar_api.proto."""
import os
import struct
import sys

from pbwire import ld, varint, vint
import zlib


def metadata(**kw):
    """MessageMetadata with its required fields and the given optional ones."""
    out = ld(1, b"fuzz") + vint(2, 7) + vint(3, 1700000000000)
    for name, field in (("compression", 8), ("uncompressed_size", 9), ("num_messages_in_batch", 11),
                        ("marker_type", 20), ("num_chunks_from_msg", 27)):
        if name in kw:
            out += vint(field, kw[name])
    return out


def record(payload, compacted_out=False):
    sm = vint(3, len(payload)) + (vint(4, 1) if compacted_out else b"")
    return struct.pack(">I", len(sm)) + sm + payload


def entry(md, payload, checksum=True):
    body = struct.pack(">I", len(md)) + md + payload
    # The checksum is left 0: the harness writes it (flag 1).
    return (b"\x0e\x01" + b"\0\0\0\0" + body) if checksum else body


def frame_rest(raw):
    """The bytes after the command of a whole frame [total][cmd size][cmd]..."""
    cmd_len = struct.unpack(">I", raw[4:8])[0]
    return raw[8 + cmd_len:]


def main():
    fixtures, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    for name in sorted(os.listdir(fixtures)):
        if name.endswith(".bin"):
            with open(os.path.join(fixtures, name), "rb") as f:
                rest = frame_rest(f.read())
            seeds[name[:-4]] = b"\x01" + rest
            if name == "produced_none_single.bin":
                seeds[name[:-4] + "_as_sent"] = b"\x00" + rest  # the broker's checksum, unrepaired
    single = metadata()
    seeds["hand_single"] = b"\x01" + entry(single, b"hello")
    seeds["hand_no_checksum"] = b"\x00" + entry(single, b"hello", checksum=False)
    bem = b"\x08\x01\x10\x02"  # a few bytes of BrokerEntryMetadata; the parser skips them
    seeds["hand_broker_metadata"] = b"\x01" + b"\x0e\x02" + struct.pack(">I", len(bem)) + bem + entry(single, b"hi")
    seeds["hand_marker"] = b"\x01" + entry(metadata(marker_type=1), b"")
    batch = record(b"old", compacted_out=True) + record(b"kept") + record(b"")
    seeds["hand_batch_compacted"] = b"\x01" + entry(metadata(num_messages_in_batch=3), batch)
    plain = b"zlib single message " * 4
    seeds["hand_zlib_single"] = b"\x01" + entry(metadata(compression=2, uncompressed_size=len(plain)),
                                                zlib.compress(plain))
    zb = record(b"a" * 10) + record(b"b" * 20)
    seeds["hand_zlib_batch"] = b"\x01" + entry(metadata(compression=2, uncompressed_size=len(zb),
                                                        num_messages_in_batch=2), zlib.compress(zb))
    seeds["hand_chunked"] = b"\x01" + entry(metadata(num_chunks_from_msg=2), b"part")
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {out}")


if __name__ == "__main__":
    main()
