#!/usr/bin/env python3
"""decode_seeds.py — hand-made seeds for fuzz_decode: the column kinds the
real fixtures of tests/fixtures/kafka/ (Milvus 2.3.5) lack, so the fuzzer
starts from well-formed messages that reach their code: Array columns (int
and string elements, and an empty one), Float16 and BFloat16 vectors, and an
Insert of zero rows.

    fuzz/decode_seeds.py fuzz/corpus/decode

Protobuf is written by hand (no protobuf module needed); field numbers are
those of src/proto/{common,schema,msg}.proto."""
import os
import struct
import sys

from pbwire import ld, varint, vint


def packed(field, values):
    return ld(field, b"".join(varint(v) for v in values))


def msg_base(msg_type, ts):
    return ld(1, vint(1, msg_type) + vint(2, 4242) + vint(3, ts) + vint(4, 7))


def scalar_long(values):              # ScalarField{long_data = 3: LongArray{data = 1}}
    return ld(3, packed(1, values))


def scalar_int(values):               # ScalarField{int_data = 2}
    return ld(2, packed(1, values))


def scalar_str(values):               # ScalarField{string_data = 6: StringArray{repeated data = 1}}
    return ld(6, b"".join(ld(1, v) for v in values))


def field(ftype, name, fid, scalars=None, vectors=None):
    out = vint(1, ftype) + ld(2, name)
    out += ld(3, scalars) if scalars is not None else ld(4, vectors)
    return out + vint(5, fid)


def array_column(elements, element_type):
    # ScalarField{array_data = 8: ArrayArray{repeated ScalarField data = 1, element_type = 2}}
    return ld(8, b"".join(ld(1, e) for e in elements) + vint(2, element_type))


def insert(columns, rows, ts=449000000000000000):
    body = msg_base(400, ts) + ld(2, b"by-dev-rootcoord-dml_0_1v0") + ld(4, b"fx_arr")
    body += vint(7, 449) + vint(8, 450)
    body += packed(10, [ts + i for i in range(rows)]) + packed(11, list(range(rows)))
    body += b"".join(ld(13, c) for c in columns)
    return body + vint(14, rows) + vint(15, 1)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    pk = field(5, b"pk", 100, scalars=scalar_long([1, 2, 3]))
    arr_int = field(22, b"tags", 101, scalars=array_column(
        [ld(2, packed(1, [1, 2])), ld(2, packed(1, [])), ld(2, packed(1, [-5]))], 5))
    arr_str = field(22, b"names", 102, scalars=array_column(
        [scalar_str([b"a", b"b"]), scalar_str([]), scalar_str([b"\xc3\xa9"])], 21))
    dim = 4
    f16 = field(102, b"v16", 103, vectors=vint(1, dim) + ld(4, bytes(range(3 * dim * 2))))
    bf16 = field(103, b"vbf", 104, vectors=vint(1, dim) + ld(5, bytes(range(100, 100 + 3 * dim * 2))))
    fvec = field(101, b"vec", 105, vectors=vint(1, 2) + ld(2, ld(1, struct.pack("<6f", *range(6)))))
    seeds = {
        "insert_array_columns.bin": insert([pk, arr_int, arr_str], 3),
        "insert_fp16_bf16.bin": insert([pk, f16, bf16, fvec], 3),
        "insert_zero_rows.bin": insert([field(5, b"pk", 100, scalars=scalar_long([]))], 0),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {out}")


if __name__ == "__main__":
    main()
