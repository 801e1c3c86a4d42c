package io.legate.http.filters.grpcweb;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.grpc.GrpcCallStats;
import io.legate.http.filter.HttpFilter.Status;
import io.legate.stats.StatsStore;
import io.legate.testing.FakeFilterCallbacks;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/** The gRPC-Web filter's body rewriting, chunk by chunk. */
class GrpcWebFilterTest {
  final FakeFilterCallbacks cb = new FakeFilterCallbacks();
  final GrpcWebFilter filter = new GrpcWebFilter(new GrpcCallStats(new StatsStore(), "grpc-web"));

  GrpcWebFilterTest() {
    filter.setDecoderCallbacks(cb);
    filter.setEncoderCallbacks(cb);
  }

  static ByteBuf ascii(String s) {
    return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
  }

  static String drain(java.util.List<ByteBuf> bufs, java.nio.charset.Charset cs) {
    StringBuilder sb = new StringBuilder();
    for (ByteBuf b : bufs) {
      sb.append(b.toString(cs));
      b.release();
    }
    bufs.clear();
    return sb.toString();
  }

  Status decode(String chunk, boolean end) {
    ByteBuf b = ascii(chunk);
    try {
      return filter.decodeData(b, end);
    } finally {
      b.release();
    }
  }

  @Test
  void requestHeadersBecomeGrpc() {
    Http2Headers h = new DefaultHttp2Headers().method("POST").path("/s/m")
        .set("content-type", "application/grpc-web-text").set("content-length", "12").set("accept", "application/grpc-web-text");
    assertThat(filter.decodeHeaders(h, false)).isEqualTo(Status.CONTINUE);
    assertThat(h.get("content-type").toString()).isEqualTo("application/grpc");
    assertThat(h.get("te").toString()).isEqualTo("trailers");
    assertThat(h.get("grpc-accept-encoding").toString()).isEqualTo("identity,deflate,gzip");
    assertThat(h.contains("content-length")).isFalse();
  }

  @Test
  void base64RequestBodyIsDecodedAcrossChunkBoundaries() {
    filter.decodeHeaders(new DefaultHttp2Headers().method("POST").path("/s/m").set("content-type", "application/grpc-web-text"), false);
    String text = Base64.getEncoder().encodeToString("hello, world!".getBytes(StandardCharsets.US_ASCII)) + "YQ==";
    assertThat(decode(text.substring(0, 2), false)).isEqualTo(Status.STOP_ITERATION_NO_BUFFER);
    assertThat(cb.injectedDecoded).isEmpty();
    assertThat(decode(text.substring(2, 7), false)).isEqualTo(Status.STOP_ITERATION_NO_BUFFER);
    assertThat(drain(cb.injectedDecoded, StandardCharsets.US_ASCII)).isEqualTo("hel");
    assertThat(decode(text.substring(7), true)).isEqualTo(Status.STOP_ITERATION_NO_BUFFER);
    assertThat(drain(cb.injectedDecoded, StandardCharsets.US_ASCII)).isEqualTo("lo, world!a");
    assertThat(cb.injectedEndStream).isTrue();
    assertThat(cb.localReply).isNull();
  }

  @Test
  void aTruncatedBase64BodyIsA400() {
    filter.decodeHeaders(new DefaultHttp2Headers().method("POST").path("/s/m").set("content-type", "application/grpc-web-text"), false);
    decode("YWJj", false);
    drain(cb.injectedDecoded, StandardCharsets.US_ASCII);
    assertThat(decode("YW", true)).isEqualTo(Status.STOP_ITERATION_NO_BUFFER);
    assertThat(cb.localReply.status()).isEqualTo(400);
    assertThat(cb.localReply.details()).isEqualTo("grpc_base_64_decode_failed_bad_size");
  }

  @Test
  void textResponsesAreEncodedOneWholeFrameAtATime() {
    filter.decodeHeaders(new DefaultHttp2Headers().method("POST").path("/s/m")
        .set("content-type", "application/grpc-web").set("accept", "application/grpc-web-text"), false);
    Http2Headers rh = new DefaultHttp2Headers().status("200").set("content-type", "application/grpc");
    assertThat(filter.encodeHeaders(rh, false)).isEqualTo(Status.CONTINUE);
    assertThat(rh.get("content-type").toString()).isEqualTo("application/grpc-web-text+proto");
    byte[] frame = {0, 0, 0, 0, 2, 'h', 'i'};
    ByteBuf first = Unpooled.wrappedBuffer(frame, 0, 3);
    assertThat(filter.encodeData(first, false)).isEqualTo(Status.STOP_ITERATION_NO_BUFFER);
    first.release();
    assertThat(cb.injectedEncoded).isEmpty();
    ByteBuf rest = Unpooled.wrappedBuffer(frame, 3, 4);
    filter.encodeData(rest, false);
    rest.release();
    assertThat(drain(cb.injectedEncoded, StandardCharsets.US_ASCII)).isEqualTo(Base64.getEncoder().encodeToString(frame));
    assertThat(filter.encodeTrailers(new DefaultHttp2Headers().set("grpc-status", "0"))).isEqualTo(Status.STOP_ITERATION_NO_BUFFER);
    byte[] trailer = {(byte) 0x80, 0, 0, 0, 15, 'g', 'r', 'p', 'c', '-', 's', 't', 'a', 't', 'u', 's', ':', '0', '\r', '\n'};
    assertThat(drain(cb.injectedEncoded, StandardCharsets.US_ASCII)).isEqualTo(Base64.getEncoder().encodeToString(trailer));
    assertThat(cb.injectedEndStream).isTrue();
    filter.onDestroy();
  }
}
