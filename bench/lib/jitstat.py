#!/usr/bin/env python3
"""Prints a HotSpot JVM's JIT totals: "<compiles> <compile milliseconds>" (all compiler threads).

Usage: jitstat.py PID. Reads the JVM's performance-data file (/tmp/hsperfdata_<user>/<pid>, kept
by -XX:+UsePerfData, the default) directly: running jstat every few seconds would start a JVM on
the cores being measured. Prints "0 0" when the file cannot be read.
"""
import glob
import struct
import sys


def counters(path):
    with open(path, "rb") as f:
        data = f.read()
    if struct.unpack(">I", data[:4])[0] != 0xCAFEC0C0:
        raise ValueError("not a perf-data file")
    bo = ">" if data[4] == 0 else "<"
    # prologue: magic, byte order, major, minor, accessible, used, overflow, mod time, entry offset, entries
    entry_offset, entries = struct.unpack(bo + "ii", data[24:32])
    out, off = {}, entry_offset
    for _ in range(entries):
        length, name_off, vector_len, data_type, _flags, _units, _var, data_off = struct.unpack(
            bo + "iiibbbbi", data[off:off + 20])
        name = data[off + name_off:data.index(b"\0", off + name_off)].decode()
        if vector_len == 0 and data_type == ord("J"):
            out[name] = struct.unpack(bo + "q", data[off + data_off:off + data_off + 8])[0]
        off += length
    return out


def main():
    pid = sys.argv[1]
    for path in glob.glob("/tmp/hsperfdata_*/" + pid):
        try:
            c = counters(path)
            freq = c.get("sun.os.hrt.frequency", 1_000_000_000) or 1_000_000_000
            print(c.get("sun.ci.totalCompiles", 0), c.get("java.ci.totalTime", 0) * 1000 // freq)
            return 0
        except (OSError, ValueError, struct.error, IndexError):
            pass
    print("0 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
