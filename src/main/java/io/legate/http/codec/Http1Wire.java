package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * HTTP/1.1 wire pieces written straight from the proxy's header map: header blocks and chunk
 * framing. Static buffers returned here are shared and unreleasable; callers write a {@code
 * duplicate()} and may release it freely.
 */
public final class Http1Wire {
  private Http1Wire() {}

  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  /** {@code \r\n}. */
  public static final ByteBuf CRLF = constant("\r\n");
  /** The last chunk of a body without trailers: {@code 0\r\n\r\n}. */
  public static final ByteBuf LAST_CHUNK = constant("0\r\n\r\n");
  /** The end of a chunk's data followed by the last chunk without trailers: {@code \r\n0\r\n\r\n}. */
  public static final ByteBuf CRLF_LAST_CHUNK = constant("\r\n0\r\n\r\n");

  private static ByteBuf constant(String s) {
    return Unpooled.unreleasableBuffer(
        Unpooled.directBuffer(s.length()).writeBytes(s.getBytes(StandardCharsets.US_ASCII)).asReadOnly());
  }

  /** Returns whether {@code name} is a pseudo-header (starts with ':'). */
  public static boolean isPseudo(CharSequence name) {
    return name.length() > 0 && name.charAt(0) == ':';
  }

  /** Writes {@code cs} as single bytes (chars above 0xff are truncated, as Netty's encoders do). */
  public static void writeAscii(ByteBuf out, CharSequence cs) {
    if (cs instanceof AsciiString a) {
      ByteBufUtil.copy(a, 0, out, a.length());
    } else {
      ByteBufUtil.writeAscii(out, cs);
    }
  }

  /** Writes {@code name: value\r\n}. */
  public static void writeHeader(ByteBuf out, CharSequence name, CharSequence value) {
    writeAscii(out, name);
    out.writeByte(':');
    out.writeByte(' ');
    writeAscii(out, value);
    out.writeByte('\r');
    out.writeByte('\n');
  }

  /**
   * Returns an upper bound of the bytes {@link #writeHeaders} writes for {@code h}: every header
   * (pseudo and hop-by-hop included) as {@code name: value\r\n}.
   */
  public static int headersSizeHint(Http2Headers h) {
    int n = 0;
    for (Map.Entry<CharSequence, CharSequence> e : h) {
      n += e.getKey().length() + e.getValue().length() + 4;
    }
    return n;
  }

  /**
   * Writes the regular headers of {@code h} as HTTP/1 header lines, skipping pseudo-headers,
   * hop-by-hop headers ({@link HeaderUtil#isHopByHop}) and, when not null, {@code skip} (compared
   * exactly: the proxy's names are lowercase).
   */
  public static void writeHeaders(ByteBuf out, Http2Headers h, AsciiString skip1, AsciiString skip2) {
    for (Map.Entry<CharSequence, CharSequence> e : h) {
      CharSequence name = e.getKey();
      if (isPseudo(name) || HeaderUtil.isHopByHop(name)) {
        continue;
      }
      if ((skip1 != null && skip1.contentEqualsIgnoreCase(name))
          || (skip2 != null && skip2.contentEqualsIgnoreCase(name))) {
        continue;
      }
      writeHeader(out, name, e.getValue());
    }
  }

  /** Writes a chunk's size line: {@code <hex size>\r\n}. */
  public static void writeChunkHeader(ByteBuf out, int size) {
    int digits = size == 0 ? 1 : (35 - Integer.numberOfLeadingZeros(size)) / 4;
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
      out.writeByte(HEX[(size >>> shift) & 0xf]);
    }
    out.writeByte('\r');
    out.writeByte('\n');
  }

  /** Returns a buffer holding a chunk's size line. */
  public static ByteBuf chunkHeader(io.netty.buffer.ByteBufAllocator alloc, int size) {
    ByteBuf b = alloc.buffer(10);
    writeChunkHeader(b, size);
    return b;
  }
}
