package io.legate.upstream;

import java.nio.charset.StandardCharsets;

/**
 * xxHash64, the hash Envoy uses for consistent hashing ({@code HashUtil::xxHash64}): ring hash and
 * Maglev hash host keys with it, and the router hashes {@code hash_policy} values with it.
 */
public final class XxHash64 {
  private static final long P1 = 0x9E3779B185EBCA87L;
  private static final long P2 = 0xC2B2AE3D27D4EB4FL;
  private static final long P3 = 0x165667B19E3779F9L;
  private static final long P4 = 0x85EBCA77C2B2AE63L;
  private static final long P5 = 0x27D4EB2F165667C5L;

  private XxHash64() {}

  /** Returns the hash of the UTF-8 bytes of {@code s} with seed 0. */
  public static long hash(String s) {
    return hash(s.getBytes(StandardCharsets.UTF_8), 0);
  }

  /** Returns the hash of the UTF-8 bytes of {@code s} with {@code seed}. */
  public static long hash(String s, long seed) {
    return hash(s.getBytes(StandardCharsets.UTF_8), seed);
  }

  /** Returns the hash of {@code b} with {@code seed}. */
  public static long hash(byte[] b, long seed) {
    return hash(b, 0, b.length, seed);
  }

  /** Returns the hash of {@code len} bytes of {@code b} from {@code off} with {@code seed}. */
  public static long hash(byte[] b, int off, int len, long seed) {
    final int end = off + len;
    long h;
    if (len >= 32) {
      final int limit = end - 32;
      long v1 = seed + P1 + P2;
      long v2 = seed + P2;
      long v3 = seed;
      long v4 = seed - P1;
      do {
        v1 = round(v1, getLong(b, off));
        v2 = round(v2, getLong(b, off + 8));
        v3 = round(v3, getLong(b, off + 16));
        v4 = round(v4, getLong(b, off + 24));
        off += 32;
      } while (off <= limit);
      h =
          Long.rotateLeft(v1, 1)
              + Long.rotateLeft(v2, 7)
              + Long.rotateLeft(v3, 12)
              + Long.rotateLeft(v4, 18);
      h = mergeRound(h, v1);
      h = mergeRound(h, v2);
      h = mergeRound(h, v3);
      h = mergeRound(h, v4);
    } else {
      h = seed + P5;
    }
    h += len;
    while (off + 8 <= end) {
      h ^= round(0, getLong(b, off));
      h = Long.rotateLeft(h, 27) * P1 + P4;
      off += 8;
    }
    if (off + 4 <= end) {
      h ^= (getInt(b, off) & 0xFFFFFFFFL) * P1;
      h = Long.rotateLeft(h, 23) * P2 + P3;
      off += 4;
    }
    while (off < end) {
      h ^= (b[off] & 0xFFL) * P5;
      h = Long.rotateLeft(h, 11) * P1;
      off++;
    }
    h ^= h >>> 33;
    h *= P2;
    h ^= h >>> 29;
    h *= P3;
    h ^= h >>> 32;
    return h;
  }

  private static long round(long acc, long input) {
    acc += input * P2;
    acc = Long.rotateLeft(acc, 31);
    return acc * P1;
  }

  private static long mergeRound(long acc, long val) {
    acc ^= round(0, val);
    return acc * P1 + P4;
  }

  private static long getLong(byte[] b, int i) {
    return (b[i] & 0xFFL)
        | (b[i + 1] & 0xFFL) << 8
        | (b[i + 2] & 0xFFL) << 16
        | (b[i + 3] & 0xFFL) << 24
        | (b[i + 4] & 0xFFL) << 32
        | (b[i + 5] & 0xFFL) << 40
        | (b[i + 6] & 0xFFL) << 48
        | (b[i + 7] & 0xFFL) << 56;
  }

  private static int getInt(byte[] b, int i) {
    return (b[i] & 0xFF) | (b[i + 1] & 0xFF) << 8 | (b[i + 2] & 0xFF) << 16 | (b[i + 3] & 0xFF) << 24;
  }
}
