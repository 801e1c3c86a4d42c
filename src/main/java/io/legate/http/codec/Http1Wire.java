package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * HTTP/1.1 wire encoding straight from the proxy's header map: no intermediate {@code HttpHeaders}
 * and no per-header objects. The {@code write*} methods write into a caller-owned {@link ByteBuf};
 * {@link #crlf()} and friends return fresh views of shared unreleasable constants (each view may be
 * written to a channel once; releasing it is harmless).
 *
 * <p>A message is written as: a start line ({@link #writeStatusLine} or {@link #writeRequestLine}),
 * the regular headers ({@link #writeHeaders}), the framing headers the caller chooses ({@link
 * #writeHeader}), {@link #endHeaders}; then the body as is (content-length or close-delimited) or
 * framed as chunks ({@link #chunkPrefix} + data + {@link #crlf()}; then {@link #lastChunk()} or
 * {@link #writeLastChunk} with trailers).
 */
public final class Http1Wire {
  private Http1Wire() {}

  private static final ByteBuf CRLF = constant("\r\n");
  private static final ByteBuf LAST_CHUNK = constant("0\r\n\r\n");
  private static final ByteBuf CRLF_LAST_CHUNK = constant("\r\n0\r\n\r\n");

  /** Returns {@code \r\n} (ends a chunk's data) as a buffer to write (a view of a shared constant). */
  public static ByteBuf crlf() {
    return CRLF.duplicate();
  }

  /** Returns the last chunk without trailers, {@code 0\r\n\r\n}, as a buffer to write. */
  public static ByteBuf lastChunk() {
    return LAST_CHUNK.duplicate();
  }

  /** Returns the end of a data chunk and the last chunk without trailers, {@code \r\n0\r\n\r\n}. */
  public static ByteBuf crlfLastChunk() {
    return CRLF_LAST_CHUNK.duplicate();
  }

  private static final byte[] COLON_SP = {':', ' '};
  private static final byte[] CRLF_BYTES = {'\r', '\n'};
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  /** Status lines ("HTTP/1.1 200 OK\r\n") by code (100..599), for HTTP/1.1 and HTTP/1.0. */
  private static final byte[][] STATUS_11 = new byte[600][];
  private static final byte[][] STATUS_10 = new byte[600][];

  static {
    for (int code = 100; code < 600; code++) {
      String reason = HttpResponseStatus.valueOf(code).reasonPhrase();
      STATUS_11[code] = ("HTTP/1.1 " + code + " " + reason + "\r\n").getBytes(StandardCharsets.US_ASCII);
      STATUS_10[code] = ("HTTP/1.0 " + code + " " + reason + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }
  }

  private static ByteBuf constant(String s) {
    return Unpooled.unreleasableBuffer(
        Unpooled.directBuffer(s.length()).writeBytes(s.getBytes(StandardCharsets.US_ASCII)).asReadOnly());
  }

  /** Writes {@code HTTP/1.x <code> <reason>\r\n} (pre-encoded for 100..599). */
  public static void writeStatusLine(ByteBuf out, boolean http10, int code) {
    if (code >= 100 && code < 600) {
      out.writeBytes(http10 ? STATUS_10[code] : STATUS_11[code]);
      return;
    }
    ByteBufUtil.writeAscii(
        out, (http10 ? "HTTP/1.0 " : "HTTP/1.1 ") + code + " " + HttpResponseStatus.valueOf(code).reasonPhrase() + "\r\n");
  }

  /** Writes {@code <method> <target> HTTP/1.1\r\n}. */
  public static void writeRequestLine(ByteBuf out, CharSequence method, CharSequence target) {
    writeAscii(out, method);
    out.writeByte(' ');
    writeAscii(out, target);
    out.writeBytes(HTTP11_SUFFIX);
  }

  private static final byte[] HTTP11_SUFFIX = " HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);

  /**
   * Writes every regular header of {@code headers} as {@code name: value\r\n}, skipping
   * pseudo-headers and hop-by-hop headers ({@link HeaderUtil#isHopByHop}). Returns whether a {@code content-length} header was written.
   */
  public static boolean writeHeaders(ByteBuf out, Http2Headers headers) {
    return writeHeaders(out, headers, false);
  }

  /**
   * As {@link #writeHeaders(ByteBuf, Http2Headers)}, leaving out {@code content-length} when {@code
   * skipContentLength} (responses that cannot have one: 1xx, 204, a 2xx to CONNECT). Returns whether
   * the map has a {@code content-length} header (written or not).
   */
  public static boolean writeHeaders(ByteBuf out, Http2Headers headers, boolean skipContentLength) {
    return writeHeaders(out, headers, skipContentLength, false, false);
  }

  /**
   * Writes a request's regular headers for an HTTP/1.1 upstream: as {@link #writeHeaders(ByteBuf,
   * Http2Headers)} without {@code te} (not forwarded to HTTP/1) and, when {@code hostWritten} (the
   * caller wrote {@code host} from {@code :authority}), without a regular {@code host}.
   */
  public static void writeRequestHeaders(ByteBuf out, Http2Headers headers, boolean hostWritten) {
    writeHeaders(out, headers, false, true, hostWritten);
  }

  private static boolean writeHeaders(
      ByteBuf out, Http2Headers headers, boolean skipContentLength, boolean skipTe, boolean skipHost) {
    boolean contentLength = false;
    for (Map.Entry<CharSequence, CharSequence> e : headers) {
      CharSequence name = e.getKey();
      int n = name.length();
      if (n == 0 || name.charAt(0) == ':' || HeaderUtil.isHopByHop(name)) {
        continue;
      }
      if ((skipTe && n == 2 && AsciiString.contentEqualsIgnoreCase(name, io.legate.http.HttpHeaderNames.TE))
          || (skipHost && n == 4 && AsciiString.contentEqualsIgnoreCase(name, io.legate.http.HttpHeaderNames.HOST))) {
        continue;
      }
      if (n == 14 && AsciiString.contentEqualsIgnoreCase(name, io.legate.http.HttpHeaderNames.CONTENT_LENGTH)) {
        contentLength = true;
        if (skipContentLength) {
          continue;
        }
      }
      writeHeader(out, name, e.getValue());
    }
    return contentLength;
  }

  /** Writes one header line {@code name: value\r\n}. */
  public static void writeHeader(ByteBuf out, CharSequence name, CharSequence value) {
    writeAscii(out, name);
    out.writeBytes(COLON_SP);
    writeAscii(out, value);
    out.writeBytes(CRLF_BYTES);
  }

  /** Ends a header section (or a trailer section): {@code \r\n}. */
  public static void endHeaders(ByteBuf out) {
    out.writeBytes(CRLF_BYTES);
  }

  /** Returns a new buffer holding a chunk's size line ({@code <hex>\r\n}) for {@code length} > 0. */
  public static ByteBuf chunkPrefix(ByteBufAllocator alloc, int length) {
    ByteBuf b = alloc.buffer(10);
    writeChunkPrefix(b, length);
    return b;
  }

  /** Writes a chunk's size line {@code <hex>\r\n}. */
  public static void writeChunkPrefix(ByteBuf out, int length) {
    int digits = Math.max(1, (35 - Integer.numberOfLeadingZeros(length)) >> 2);
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
      out.writeByte(HEX[(length >>> shift) & 0xf]);
    }
    out.writeBytes(CRLF_BYTES);
  }

  /**
   * Writes {@code data} to {@code out} as one chunk (size line, data, {@code \r\n}), followed by the
   * last chunk when {@code endStream}; empty data writes only the last chunk when {@code endStream}
   * (and is released). Takes ownership of {@code data}; nothing is flushed.
   */
  public static void writeChunk(io.netty.channel.ChannelOutboundInvoker out, ByteBufAllocator alloc, ByteBuf data, boolean endStream) {
    int n = data.readableBytes();
    if (n > 0) {
      out.write(chunkPrefix(alloc, n), out.voidPromise());
      out.write(data, out.voidPromise());
      out.write(endStream ? crlfLastChunk() : crlf(), out.voidPromise());
    } else {
      data.release();
      if (endStream) {
        out.write(lastChunk(), out.voidPromise());
      }
    }
  }

  /**
   * Writes the last chunk with trailers: {@code 0\r\n}, the regular trailers (as {@link
   * #writeHeaders}), {@code \r\n}. {@code trailers} may be null.
   */
  public static void writeLastChunk(ByteBuf out, Http2Headers trailers) {
    out.writeByte('0');
    out.writeBytes(CRLF_BYTES);
    if (trailers != null) {
      writeHeaders(out, trailers);
    }
    out.writeBytes(CRLF_BYTES);
  }

  /** Writes a header name or value: bytes of an {@link AsciiString} as is, else chars as ASCII. */
  public static void writeAscii(ByteBuf out, CharSequence s) {
    if (s instanceof AsciiString a) {
      out.writeBytes(a.array(), a.arrayOffset(), a.length());
    } else {
      ByteBufUtil.writeAscii(out, s);
    }
  }
}
