package io.legate.upstream.pool;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class Http1ResponseDecoderTest {
  /** What a decoder emitted, flattened to text; buffers are released. */
  static List<String> events(EmbeddedChannel ch) {
    List<String> ev = new ArrayList<>();
    Object m;
    while ((m = ch.readInbound()) != null) {
      if (m instanceof Http1ResponseDecoder.Head h) {
        ev.add("head " + h.status + " " + sorted(h.headers) + " keepAlive=" + h.keepAlive + " end=" + h.endStream
            + (h.upgrade != null ? " upgrade=" + h.upgrade : ""));
      } else if (m instanceof Http1ResponseDecoder.Last l) {
        ev.add("last " + l.data.toString(StandardCharsets.ISO_8859_1)
            + (l.trailers != null ? " trailers=" + sorted(l.trailers) : ""));
        l.data.release();
      } else if (m instanceof ByteBuf b) {
        ev.add("data " + b.toString(StandardCharsets.ISO_8859_1));
        b.release();
      } else if (m == Http1ResponseDecoder.FAILURE) {
        ev.add("failure");
      } else {
        ev.add("? " + m);
      }
    }
    return ev;
  }

  static String sorted(Http2Headers h) {
    List<String> l = new ArrayList<>();
    h.forEach(e -> l.add(e.getKey() + "=" + e.getValue()));
    return l.toString();
  }

  static EmbeddedChannel channel(boolean head, boolean connect) {
    Http1ResponseDecoder d = new Http1ResponseDecoder(4096, 65536, 100);
    d.expectResponse(head, connect);
    return new EmbeddedChannel(d);
  }

  static ByteBuf bytes(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
  }

  /** Feeds the response whole, and split in two at every byte; returns the events (data joined). */
  static List<String> decodeAllSplits(String response, boolean head, boolean close) {
    EmbeddedChannel whole = channel(head, false);
    whole.writeInbound(bytes(response));
    if (close) {
      whole.finish();
    }
    List<String> expected = joinData(events(whole));
    assertThat(whole.finishAndReleaseAll()).isFalse();
    for (int i = 1; i < response.length(); i++) {
      EmbeddedChannel ch = channel(head, false);
      ch.writeInbound(bytes(response.substring(0, i)));
      ch.writeInbound(bytes(response.substring(i)));
      if (close) {
        ch.finish();
      }
      assertThat(joinData(events(ch))).as("split at %d", i).isEqualTo(expected);
      assertThat(ch.finishAndReleaseAll()).isFalse();
    }
    // and one byte at a time
    EmbeddedChannel ch = channel(head, false);
    for (int i = 0; i < response.length(); i++) {
      ch.writeInbound(bytes(response.substring(i, i + 1)));
    }
    if (close) {
      ch.finish();
    }
    assertThat(joinData(events(ch))).as("byte by byte").isEqualTo(expected);
    assertThat(ch.finishAndReleaseAll()).isFalse();
    return expected;
  }

  /** Joins consecutive data events (where a read splits the body is not part of the contract). */
  static List<String> joinData(List<String> ev) {
    List<String> out = new ArrayList<>();
    StringBuilder data = new StringBuilder();
    for (String e : ev) {
      if (e.startsWith("data ")) {
        data.append(e, 5, e.length());
        continue;
      }
      if (e.startsWith("last ")) {
        out.add("body " + data + e.substring(5));
        data.setLength(0);
        continue;
      }
      if (data.length() > 0) {
        out.add("data " + data);
        data.setLength(0);
      }
      out.add(e);
    }
    if (data.length() > 0) {
      out.add("data " + data);
    }
    return out;
  }

  @Test
  void contentLengthBodyAtEverySplit() {
    assertThat(decodeAllSplits(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: A b \r\nServer:x\r\n\r\nhello", false, false))
        .containsExactly(
            "head 200 [:status=200, content-length=5, x-up=A b, server=x] keepAlive=true end=false",
            "body hello");
  }

  @Test
  void chunkedBodyWithTrailersAtEverySplit() {
    assertThat(decodeAllSplits(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\ngrpc-status: 0\r\n\r\n",
            false, false))
        .containsExactly(
            "head 200 [:status=200] keepAlive=true end=false",
            "body hello world trailers=[x-trailer=yes, grpc-status=0]");
  }

  @Test
  void chunkedWithoutTrailersAndBareLineFeeds() {
    assertThat(decodeAllSplits(
            "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nContent-Length: 99\n\nA\n0123456789\n0\n\n", false, false))
        .containsExactly("head 200 [:status=200] keepAlive=true end=false", "body 0123456789");
  }

  @Test
  void twoResponsesBackToBackKeepTheirBoundaries() {
    EmbeddedChannel ch = channel(false, false);
    ch.writeInbound(bytes("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nabHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"));
    assertThat(joinData(events(ch))).containsExactly(
        "head 200 [:status=200, content-length=2] keepAlive=true end=false",
        "body ab",
        "head 404 [:status=404, content-length=0] keepAlive=true end=true");
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void headAndNoContentAndNotModifiedHaveNoBody() {
    assertThat(decodeAllSplits("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", true, false))
        .containsExactly("head 200 [:status=200, content-length=100] keepAlive=true end=true");
    assertThat(decodeAllSplits("HTTP/1.1 204 No Content\r\n\r\n", false, false))
        .containsExactly("head 204 [:status=204] keepAlive=true end=true");
    assertThat(decodeAllSplits("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n", false, false))
        .containsExactly("head 304 [:status=304, content-length=10] keepAlive=true end=true");
  }

  @Test
  void aBodyWithoutLengthEndsWithTheConnection() {
    assertThat(decodeAllSplits("HTTP/1.1 200 OK\r\nconnection: keep-alive\r\n\r\nuntil close", false, true))
        .containsExactly("head 200 [:status=200] keepAlive=false end=false", "body until close");
  }

  @Test
  void aFixedBodyCutShortEmitsNoEnd() {
    EmbeddedChannel ch = channel(false, false);
    ch.writeInbound(bytes("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"));
    ch.finish();
    assertThat(events(ch)).containsExactly(
        "head 200 [:status=200, content-length=10] keepAlive=true end=false", "data abc");
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void interimResponsesAreSkipped() {
    assertThat(decodeAllSplits(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            false, false))
        .containsExactly("head 200 [:status=200, content-length=2] keepAlive=true end=false", "body ok");
  }

  @Test
  void connectionHeadersDecideKeepAliveAndAreDropped() {
    EmbeddedChannel ch = channel(false, false);
    ch.writeInbound(bytes("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"
        + "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\ncontent-length: 0\r\n\r\n"
        + "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nx-hop: 1\r\nx-end: 2\r\nHost: h\r\nTE: gzip\r\n"
        + "Proxy-Connection: x\r\ncontent-length: 0\r\n\r\n"));
    assertThat(events(ch)).containsExactly(
        "head 200 [:status=200, content-length=0] keepAlive=false end=true",
        "head 200 [:status=200, content-length=0] keepAlive=true end=true",
        "head 200 [:status=200, x-end=2, content-length=0] keepAlive=false end=true");
    assertThat(ch.finishAndReleaseAll()).isFalse();
  }

  @Test
  void switchingProtocolsPassesTheRestRaw() {
    EmbeddedChannel ch = channel(false, false);
    ch.writeInbound(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nraw"));
    ch.writeInbound(bytes("HTTP/1.1 200 more"));
    assertThat(events(ch)).containsExactly(
        "head 101 [:status=101] keepAlive=false end=false upgrade=websocket", "data raw", "data HTTP/1.1 200 more");
    assertThat(ch.finishAndReleaseAll()).isFalse();
    EmbeddedChannel connect = channel(false, true);
    connect.writeInbound(bytes("HTTP/1.1 200 Connection established\r\ncontent-length: 5\r\n\r\ntunnel bytes"));
    assertThat(events(connect)).containsExactly(
        "head 200 [:status=200, content-length=5] keepAlive=false end=false", "data tunnel bytes");
    assertThat(connect.finishAndReleaseAll()).isFalse();
  }

  @Test
  void malformedResponsesFailOnce() {
    String[] bad = {
      "HTTP/1.1 2x0 OK\r\n\r\n",
      "HTTP/2.0 200 OK\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "HTTP/1.1 200OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
      "HTTP/1.1 200 OK\r\nname : v\r\n\r\n",
      "HTTP/1.1 200 OK\r\nx: a\r\n folded\r\n\r\n",
      "HTTP/1.1 200 OK\r\nx: a\u0000b\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: 1, 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabX",
    };
    for (String r : bad) {
      EmbeddedChannel ch = channel(false, false);
      ch.writeInbound(bytes(r));
      ch.writeInbound(bytes("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
      List<String> ev = events(ch);
      assertThat(ev).as(r).contains("failure");
      assertThat(ev.stream().filter(e -> e.equals("failure")).count()).as(r).isEqualTo(1);
      assertThat(ev.get(ev.size() - 1)).as(r).isEqualTo("failure");
      assertThat(ch.finishAndReleaseAll()).isFalse();
    }
  }

  @Test
  void limitsOnTheStatusLineAndHeaders() {
    EmbeddedChannel ch = channel(false, false);
    ch.writeInbound(bytes("HTTP/1.1 200 " + "x".repeat(5000)));
    assertThat(events(ch)).containsExactly("failure");
    assertThat(ch.finishAndReleaseAll()).isFalse();
    EmbeddedChannel big = channel(false, false);
    big.writeInbound(bytes("HTTP/1.1 200 OK\r\n" + ("x-h: " + "v".repeat(1000) + "\r\n").repeat(70)));
    assertThat(events(big)).containsExactly("failure");
    assertThat(big.finishAndReleaseAll()).isFalse();
    EmbeddedChannel fits = channel(false, false);
    fits.writeInbound(bytes("HTTP/1.1 200 OK\r\n" + ("x-h: " + "v".repeat(1000) + "\r\n").repeat(60)
        + "content-length: 0\r\n\r\n"));
    assertThat(events(fits)).hasSize(1).allMatch(e -> e.startsWith("head 200"));
    assertThat(fits.finishAndReleaseAll()).isFalse();
  }
}
