package io.legate.http.filters.grpcweb;

import io.netty.buffer.ByteBuf;

/** Standard base64 (RFC 4648, padded) over {@code ByteBuf}s, one 4-character quantum at a time. */
final class Base64Text {
  private static final byte[] ALPHABET =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final byte[] VALUES = new byte[256];

  static {
    java.util.Arrays.fill(VALUES, (byte) -1);
    for (int i = 0; i < ALPHABET.length; i++) {
      VALUES[ALPHABET[i]] = (byte) i;
    }
  }

  private Base64Text() {}

  /** Appends the base64 of {@code length} bytes of {@code src} from {@code index} to {@code out}. */
  static void encode(ByteBuf src, int index, int length, ByteBuf out) {
    int end = index + length;
    int i = index;
    for (; i + 3 <= end; i += 3) {
      int v = (src.getUnsignedByte(i) << 16) | (src.getUnsignedByte(i + 1) << 8) | src.getUnsignedByte(i + 2);
      out.writeByte(ALPHABET[v >>> 18]).writeByte(ALPHABET[(v >>> 12) & 63])
          .writeByte(ALPHABET[(v >>> 6) & 63]).writeByte(ALPHABET[v & 63]);
    }
    int rest = end - i;
    if (rest == 1) {
      int v = src.getUnsignedByte(i) << 16;
      out.writeByte(ALPHABET[v >>> 18]).writeByte(ALPHABET[(v >>> 12) & 63]).writeByte('=').writeByte('=');
    } else if (rest == 2) {
      int v = (src.getUnsignedByte(i) << 16) | (src.getUnsignedByte(i + 1) << 8);
      out.writeByte(ALPHABET[v >>> 18]).writeByte(ALPHABET[(v >>> 12) & 63])
          .writeByte(ALPHABET[(v >>> 6) & 63]).writeByte('=');
    }
  }

  /** Returns the size of the base64 of {@code length} bytes. */
  static int encodedLength(int length) {
    return (length + 2) / 3 * 4;
  }

  /**
   * Decodes the readable bytes of {@code src} (a multiple of 4 characters; each quantum may end in
   * padding, so padded chunks may be concatenated) into {@code out}. Returns false on bad input.
   */
  static boolean decode(ByteBuf src, ByteBuf out) {
    int end = src.writerIndex();
    for (int i = src.readerIndex(); i + 4 <= end; i += 4) {
      int a = VALUES[src.getUnsignedByte(i)];
      int b = VALUES[src.getUnsignedByte(i + 1)];
      byte c3 = src.getByte(i + 2);
      byte c4 = src.getByte(i + 3);
      if (a < 0 || b < 0) {
        return false;
      }
      if (c3 == '=') {
        if (c4 != '=') {
          return false;
        }
        out.writeByte((a << 2) | (b >>> 4));
        continue;
      }
      int c = VALUES[c3 & 0xff];
      if (c < 0) {
        return false;
      }
      if (c4 == '=') {
        out.writeByte((a << 2) | (b >>> 4)).writeByte(((b & 15) << 4) | (c >>> 2));
        continue;
      }
      int d = VALUES[c4 & 0xff];
      if (d < 0) {
        return false;
      }
      out.writeByte((a << 2) | (b >>> 4)).writeByte(((b & 15) << 4) | (c >>> 2)).writeByte(((c & 3) << 6) | d);
    }
    return true;
  }
}
