package io.legate.http.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.envoyproxy.envoy.config.core.v3.HttpProtocolOptions.HeadersWithUnderscoresAction;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The request decoder on its own: what it makes of bytes, however they are split. */
class Http1ServerCodecTest {
  static EmbeddedChannel channel() {
    return new EmbeddedChannel(new Http1ServerCodec(8192, 100, true, "", HeadersWithUnderscoresAction.ALLOW, false));
  }

  /** Feeds {@code parts} one write each and renders what the decoder emitted. */
  static String decode(List<byte[]> parts) {
    EmbeddedChannel ch = channel();
    for (byte[] p : parts) {
      ch.writeInbound(Unpooled.wrappedBuffer(p));
    }
    StringBuilder sb = new StringBuilder();
    StringBuilder body = new StringBuilder();
    for (Object o; (o = ch.readInbound()) != null; ) {
      if (o instanceof Http1ServerCodec.Request r) {
        if (body.length() > 0) {
          sb.append("body[").append(body).append("]\n");
          body.setLength(0);
        }
        sb.append("request error=").append(r.error).append(" keepAlive=").append(r.keepAlive)
            .append(" bodyless=").append(r.bodyless).append('\n');
        if (r.headers != null) {
          for (Map.Entry<CharSequence, CharSequence> e : r.headers) {
            sb.append(e.getKey()).append(": ").append(e.getValue()).append('\n');
          }
        }
      } else if (o instanceof Http1ServerCodec.Body b) {
        body.append(b.content().toString(StandardCharsets.ISO_8859_1));
        if (b.last) {
          sb.append("body[").append(body).append("] last");
          body.setLength(0);
          if (b.trailers != null) {
            for (Map.Entry<CharSequence, CharSequence> e : b.trailers) {
              sb.append(' ').append(e.getKey()).append('=').append(e.getValue());
            }
          }
          sb.append('\n');
        }
        b.release();
      } else {
        sb.append(o.getClass().getSimpleName()).append('\n');
      }
    }
    ch.finishAndReleaseAll();
    return sb.toString();
  }

  static final String PIPELINE =
      "\r\nPOST /a?x=1 HTTP/1.1\r\nHost: h.example\r\nX-Case: Some Value \r\nConnection: keep-alive, x-hop\r\n"
          + "X-Hop: dropped\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n\r\n"
          + "3;e=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
          + "PUT http://other.example:8080/b HTTP/1.1\r\nHost: ignored\r\nContent-Length: 4\r\n\r\nwxyz"
          + "GET / HTTP/1.0\r\nHost: ten\r\n\r\n";

  @Test
  void decodesAPipelineOfRequests() {
    byte[] bytes = PIPELINE.getBytes(StandardCharsets.ISO_8859_1);
    assertThat(decode(List.of(bytes)))
        .isEqualTo(
            """
            request error=0 keepAlive=true bodyless=false
            :method: POST
            :path: /a?x=1
            :scheme: http
            :authority: h.example
            x-case: Some Value
            te: trailers
            body[abc0123456789] last x-trailer=t
            request error=0 keepAlive=true bodyless=false
            :method: PUT
            :path: /b
            :scheme: http
            :authority: other.example:8080
            content-length: 4
            body[wxyz] last
            request error=0 keepAlive=false bodyless=true
            :method: GET
            :path: /
            :scheme: http
            :authority: ten
            """);
  }

  @Test
  void everySplitPointDecodesTheSame() {
    byte[] bytes = PIPELINE.getBytes(StandardCharsets.ISO_8859_1);
    String whole = decode(List.of(bytes));
    for (int i = 1; i < bytes.length; i++) {
      byte[] a = java.util.Arrays.copyOfRange(bytes, 0, i);
      byte[] b = java.util.Arrays.copyOfRange(bytes, i, bytes.length);
      assertThat(decode(List.of(a, b))).as("split at %d", i).isEqualTo(whole);
    }
    List<byte[]> single = new ArrayList<>();
    for (byte x : bytes) {
      single.add(new byte[] {x});
    }
    assertThat(decode(single)).as("one byte at a time").isEqualTo(whole);
  }

  @Test
  void anUpgradeStopsTheParser() {
    String req = "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\nRAW BYTES";
    EmbeddedChannel ch = channel();
    ch.writeInbound(Unpooled.copiedBuffer(req, StandardCharsets.ISO_8859_1));
    Http1ServerCodec.Request r = ch.readInbound();
    assertThat(r.upgradeType).isEqualTo("websocket");
    assertThat(r.upgradeValue).isEqualTo("WebSocket");
    Http2Headers h = r.headers;
    assertThat(h.get("upgrade").toString()).isEqualTo("WebSocket");
    assertThat(h.get("connection").toString()).isEqualTo("upgrade");
    assertThat((Object) ch.readInbound()).isNull();
    // Leaving the pipeline hands the held bytes on as they came.
    ((Http1ServerCodec) ch.pipeline().first()).switchToTunnel(ch.pipeline());
    ByteBuf rest = ch.readInbound();
    assertThat(rest.toString(StandardCharsets.ISO_8859_1)).isEqualTo("RAW BYTES");
    rest.release();
    ch.finishAndReleaseAll();
  }

  @Test
  void refusals() {
    assertThat(decode(List.of("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1))))
        .startsWith("request error=400");
    assertThat(decode(List.of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1))))
        .startsWith("request error=501");
    assertThat(decode(List.of(("GET / HTTP/1.1\r\nHost: a\r\nX: " + "a".repeat(9000) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1))))
        .startsWith("request error=431");
    assertThat(decode(List.of(("GET / HTTP/1.1\r\nHost: a\r\nX: " + "a".repeat(9000)).getBytes(StandardCharsets.ISO_8859_1))))
        .as("refused before the section ends")
        .startsWith("request error=431");
    assertThat(decode(List.of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".getBytes(StandardCharsets.ISO_8859_1))))
        .endsWith("BodyError\n");
  }
}
