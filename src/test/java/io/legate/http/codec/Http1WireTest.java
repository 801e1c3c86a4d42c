package io.legate.http.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class Http1WireTest {
  private static String drain(ByteBuf b) {
    try {
      return b.toString(StandardCharsets.US_ASCII);
    } finally {
      b.release();
    }
  }

  @Test
  void writesAResponseHeaderBlockWithoutPseudoOrHopByHopHeaders() {
    Http2Headers h = new DefaultHttp2Headers(false);
    h.status("404");
    h.add("content-type", "text/plain");
    h.add("connection", "keep-alive");
    h.add("transfer-encoding", "chunked");
    h.add("keep-alive", "timeout=5");
    h.add("proxy-connection", "x");
    h.add("upgrade", "websocket");
    h.add("set-cookie", "a=1");
    h.add("set-cookie", "b=2");
    h.add("content-length", "5");
    ByteBuf out = Unpooled.buffer();
    Http1Wire.writeStatusLine(out, false, 404);
    assertThat(Http1Wire.writeHeaders(out, h)).isTrue();
    Http1Wire.endHeaders(out);
    assertThat(drain(out))
        .isEqualTo(
            "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n"
                + "content-length: 5\r\n\r\n");
  }

  @Test
  void leavesOutContentLengthWhenAsked() {
    Http2Headers h = new DefaultHttp2Headers(false);
    h.add("Content-Length", "5");
    h.add("x", "y");
    ByteBuf out = Unpooled.buffer();
    assertThat(Http1Wire.writeHeaders(out, h, true)).isTrue();
    assertThat(drain(out)).isEqualTo("x: y\r\n");
  }

  @Test
  void validNamesAndValues() {
    assertThat(HeaderUtil.isValidHeaderName("x-a_b.c~1")).isTrue();
    assertThat(HeaderUtil.isValidHeaderName(":path")).isTrue();
    assertThat(HeaderUtil.isValidHeaderName(io.netty.util.AsciiString.of("X-Upper"))).isTrue();
    assertThat(HeaderUtil.isValidHeaderName("")).isFalse();
    assertThat(HeaderUtil.isValidHeaderName(":")).isFalse();
    assertThat(HeaderUtil.isValidHeaderName("a:b")).isFalse();
    assertThat(HeaderUtil.isValidHeaderName(io.netty.util.AsciiString.of("a b"))).isFalse();
    assertThat(HeaderUtil.isValidHeaderName("\u0101")).isFalse();
    assertThat(HeaderUtil.isValidHeaderValue("")).isTrue();
    assertThat(HeaderUtil.isValidHeaderValue("a\tb \u00ff")).isTrue();
    assertThat(HeaderUtil.isValidHeaderValue(io.netty.util.AsciiString.of("x\u0080y"))).isTrue();
    assertThat(HeaderUtil.isValidHeaderValue("a\rb")).isFalse();
    assertThat(HeaderUtil.isValidHeaderValue(io.netty.util.AsciiString.of("a\nb"))).isFalse();
    assertThat(HeaderUtil.isValidHeaderValue("a\u007fb")).isFalse();
    assertThat(HeaderUtil.isValidHeaderValue("a\u0001b")).isFalse();
    assertThat(HeaderUtil.isValidHeaderValue("a\u010ab")).isFalse();
    // Every position, every kind of byte, in AsciiString views.
    for (int len : new int[] {7, 8, 9, 16, 21}) {
      for (int at = 0; at < len; at++) {
        for (int c : new int[] {0x00, 0x0a, 0x0d, 0x1f, 0x7f}) {
          byte[] v = "abcdefghijklmnopqrstu".substring(0, len).getBytes(StandardCharsets.US_ASCII);
          v[at] = (byte) c;
          assertThat(HeaderUtil.isValidHeaderValue(new io.netty.util.AsciiString(v, false)))
              .as("0x%02x at %d of %d", c, at, len).isFalse();
        }
        for (int c : new int[] {0x09, 0x20, 0x7e, 0x80, 0xa0, 0xff}) {
          byte[] v = "abcdefghijklmnopqrstu".substring(0, len).getBytes(StandardCharsets.US_ASCII);
          v[at] = (byte) c;
          assertThat(HeaderUtil.isValidHeaderValue(new io.netty.util.AsciiString(v, false)))
              .as("0x%02x at %d of %d", c, at, len).isTrue();
        }
      }
    }
    // A view into a larger array: only its own bytes count.
    byte[] big = "\r\nclean-value-here\r\n".getBytes(StandardCharsets.US_ASCII);
    assertThat(HeaderUtil.isValidHeaderValue(new io.netty.util.AsciiString(big, 2, big.length - 4, false))).isTrue();
  }

  @Test
  void statusLinesForBothVersionsAndUnusualCodes() {
    ByteBuf out = Unpooled.buffer();
    Http1Wire.writeStatusLine(out, true, 200);
    Http1Wire.writeStatusLine(out, false, 431);
    Http1Wire.writeStatusLine(out, false, 799);
    assertThat(drain(out))
        .isEqualTo("HTTP/1.0 200 OK\r\nHTTP/1.1 431 Request Header Fields Too Large\r\nHTTP/1.1 799 Unknown Status (799)\r\n");
  }

  @Test
  void requestLine() {
    ByteBuf out = Unpooled.buffer();
    Http1Wire.writeRequestLine(out, "GET", "/a?b=c");
    assertThat(drain(out)).isEqualTo("GET /a?b=c HTTP/1.1\r\n");
  }

  @Test
  void chunkSizesInHex() {
    int[] sizes = {1, 9, 15, 16, 255, 256, 4095, 4096, 65536, 0x7fffffff};
    for (int n : sizes) {
      assertThat(drain(Http1Wire.chunkPrefix(ByteBufAllocator.DEFAULT, n)))
          .as("size %d", n)
          .isEqualTo(Integer.toHexString(n) + "\r\n");
    }
  }

  @Test
  void lastChunkWithTrailers() {
    Http2Headers t = new DefaultHttp2Headers(false);
    t.add("grpc-status", "0");
    t.add("grpc-message", "ok");
    ByteBuf out = Unpooled.buffer();
    Http1Wire.writeLastChunk(out, t);
    assertThat(drain(out)).isEqualTo("0\r\ngrpc-status: 0\r\ngrpc-message: ok\r\n\r\n");
    assertThat(drain(Http1Wire.lastChunk())).isEqualTo("0\r\n\r\n");
    assertThat(drain(Http1Wire.crlfLastChunk())).isEqualTo("\r\n0\r\n\r\n");
    // The constants survive being read and released.
    assertThat(drain(Http1Wire.crlf())).isEqualTo("\r\n");
    assertThat(drain(Http1Wire.crlf())).isEqualTo("\r\n");
  }
}
