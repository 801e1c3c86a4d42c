package io.legate.http.filters.extauthz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthz;
import io.envoyproxy.envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.legate.config.ConfigException;
import io.legate.http.ResponseFlag;
import io.legate.http.filter.HttpFilter;
import io.legate.stats.StatsStore;
import io.legate.testing.FakeFilterCallbacks;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class ExtAuthzFilterTest {
  final StatsStore stats = new StatsStore();
  final FakeFilterCallbacks cb = new FakeFilterCallbacks();

  /** A client whose answer the test gives, now or later. */
  static final class FakeClient implements AuthzClient {
    AuthzResult immediate;
    Consumer<AuthzResult> pending;
    Map<String, String> extensions;
    boolean cancelled;
    byte[] body;
    boolean partial;

    @Override
    public Call check(Http2Headers headers, io.legate.http.filter.DecoderCallbacks callbacks,
        Map<String, String> contextExtensions, byte[] body, boolean partial, Consumer<AuthzResult> done) {
      extensions = contextExtensions;
      this.body = body;
      this.partial = partial;
      if (immediate != null) {
        done.accept(immediate);
      } else {
        pending = done;
      }
      return () -> cancelled = true;
    }
  }

  final FakeClient client = new FakeClient();

  ExtAuthzConfig config(boolean failureModeAllow, int statusOnError) {
    return new ExtAuthzConfig("authz", client, failureModeAllow, true, statusOnError, -1, false, false,
        stats.scope("http.t.ext_authz."));
  }

  static Http2Headers request() {
    return new DefaultHttp2Headers(false).method("GET").path("/p").authority("h").set("x-remove", "1");
  }

  static AuthzResult ok() {
    return new AuthzResult(AuthzResult.Kind.OK, false, 0, "",
        List.of(new AuthzResult.HeaderOp(AsciiString.of("x-user"), "alice", AuthzResult.Op.SET)),
        List.of(AsciiString.of("x-remove")),
        List.of(new AuthzResult.HeaderOp(AsciiString.of("x-resp"), "r", AuthzResult.Op.ADD)));
  }

  @Test
  void immediateOkContinuesWithTheHeaderChanges() {
    client.immediate = ok();
    ExtAuthzFilter f = new ExtAuthzFilter(config(false, 403));
    f.setDecoderCallbacks(cb);
    Http2Headers h = request();
    assertThat(f.decodeHeaders(h, true)).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(h.get("x-user").toString()).isEqualTo("alice");
    assertThat(h.contains("x-remove")).isFalse();
    assertThat(cb.continueDecodingCalls).isZero();
    Http2Headers response = new DefaultHttp2Headers(false).status("200");
    assertThat(f.encodeHeaders(response, true)).isEqualTo(HttpFilter.Status.CONTINUE);
    assertThat(response.get("x-resp").toString()).isEqualTo("r");
    assertThat(stats.counter("http.t.ext_authz.ok").value()).isEqualTo(1);
  }

  @Test
  void laterOkResumesDecoding() {
    ExtAuthzFilter f = new ExtAuthzFilter(config(false, 403));
    f.setDecoderCallbacks(cb);
    assertThat(f.decodeHeaders(request(), false)).isEqualTo(HttpFilter.Status.STOP_ITERATION);
    assertThat(cb.continueDecodingCalls).isZero();
    client.pending.accept(ok());
    assertThat(cb.continueDecodingCalls).isEqualTo(1);
    assertThat(cb.localReply).isNull();
  }

  @Test
  void denialIsALocalReplyWithUaex() {
    ExtAuthzFilter f = new ExtAuthzFilter(config(false, 403));
    f.setDecoderCallbacks(cb);
    f.decodeHeaders(request(), true);
    client.pending.accept(new AuthzResult(AuthzResult.Kind.DENIED, false, 401, "no", List.of(), List.of(),
        List.of(new AuthzResult.HeaderOp(AsciiString.of("x-why"), "because", AuthzResult.Op.ADD))));
    assertThat(cb.localReply.status()).isEqualTo(401);
    assertThat(cb.localReply.body()).isEqualTo("no");
    assertThat(cb.localReply.details()).isEqualTo("ext_authz_denied");
    assertThat(cb.localReply.extraHeaders().get("x-why").toString()).isEqualTo("because");
    assertThat(cb.info.hasResponseFlag(ResponseFlag.UNAUTHORIZED_EXTERNAL_SERVICE)).isTrue();
    assertThat(cb.continueDecodingCalls).isZero();
    assertThat(stats.counter("http.t.ext_authz.denied").value()).isEqualTo(1);
  }

  @Test
  void errorAnswersStatusOnError() {
    ExtAuthzFilter f = new ExtAuthzFilter(config(false, 503));
    f.setDecoderCallbacks(cb);
    f.decodeHeaders(request(), true);
    client.pending.accept(AuthzResult.error(true));
    assertThat(cb.localReply.status()).isEqualTo(503);
    assertThat(cb.localReply.body()).isEmpty();
    assertThat(cb.localReply.details()).isEqualTo("ext_authz_error");
    assertThat(cb.info.hasResponseFlag(ResponseFlag.UNAUTHORIZED_EXTERNAL_SERVICE)).isTrue();
    assertThat(stats.counter("http.t.ext_authz.error").value()).isEqualTo(1);
    assertThat(stats.counter("http.t.ext_authz.timeout").value()).isEqualTo(1);
  }

  @Test
  void failureModeAllowContinues() {
    ExtAuthzFilter f = new ExtAuthzFilter(config(true, 403));
    f.setDecoderCallbacks(cb);
    Http2Headers h = request();
    f.decodeHeaders(h, true);
    client.pending.accept(AuthzResult.error(false));
    assertThat(cb.localReply).isNull();
    assertThat(cb.continueDecodingCalls).isEqualTo(1);
    assertThat(h.get("x-envoy-auth-failure-mode-allowed").toString()).isEqualTo("true");
    assertThat(stats.counter("http.t.ext_authz.failure_mode_allowed").value()).isEqualTo(1);
    assertThat(stats.counter("http.t.ext_authz.timeout").value()).isZero();
  }

  @Test
  void destroyCancelsTheCheckAndIgnoresALateAnswer() {
    ExtAuthzFilter f = new ExtAuthzFilter(config(false, 403));
    f.setDecoderCallbacks(cb);
    f.decodeHeaders(request(), true);
    f.onDestroy();
    assertThat(client.cancelled).isTrue();
    client.pending.accept(ok());
    assertThat(cb.continueDecodingCalls).isZero();
    assertThat(stats.counter("http.t.ext_authz.ok").value()).isZero();
  }

  @Test
  void grpcResultMapping() throws Exception {
    CheckResponse.Builder b = CheckResponse.newBuilder();
    JsonFormat.parser().merge("""
        {"status": {"code": 7}, "denied_response": {"status": {"code": "Unauthorized"}, "body": "b",
         "headers": [{"header": {"key": "X-A", "value": "1"}}, {"header": {"key": "x-b", "value": "2"}, "append": true}]}}
        """, b);
    AuthzResult r = GrpcAuthzClient.toResult(b.build());
    assertThat(r.kind()).isEqualTo(AuthzResult.Kind.DENIED);
    assertThat(r.status()).isEqualTo(401);
    assertThat(r.body()).isEqualTo("b");
    assertThat(r.clientHeaders()).containsExactly(
        new AuthzResult.HeaderOp(AsciiString.of("x-a"), "1", AuthzResult.Op.SET),
        new AuthzResult.HeaderOp(AsciiString.of("x-b"), "2", AuthzResult.Op.ADD));
    CheckResponse.Builder ok = CheckResponse.newBuilder();
    JsonFormat.parser().merge("""
        {"status": {"code": 0}, "ok_response": {"headers": [{"header": {"key": "x-c", "value": "3"},
         "append_action": "ADD_IF_ABSENT"}], "headers_to_remove": ["x-d", ":path", "host"]}}
        """, ok);
    AuthzResult o = GrpcAuthzClient.toResult(ok.build());
    assertThat(o.kind()).isEqualTo(AuthzResult.Kind.OK);
    assertThat(o.upstreamHeaders()).containsExactly(
        new AuthzResult.HeaderOp(AsciiString.of("x-c"), "3", AuthzResult.Op.ADD_IF_ABSENT));
    assertThat(o.headersToRemove()).containsExactly(AsciiString.of("x-d"));
  }

  ExtAuthzConfig bodyConfig(boolean allowPartial) {
    return new ExtAuthzConfig("authz", client, false, false, 403, 5, allowPartial, false, stats.scope("http.t.ext_authz."));
  }

  static io.netty.buffer.ByteBuf bytes(String s) {
    return io.netty.buffer.Unpooled.copiedBuffer(s, java.nio.charset.StandardCharsets.UTF_8);
  }

  HttpFilter.Status feed(ExtAuthzFilter f, String s, boolean end) {
    io.netty.buffer.ByteBuf b = bytes(s);
    try {
      return f.decodeData(b, end);
    } finally {
      b.release();
    }
  }

  @Test
  void withRequestBodyWatchesTheBodyThenChecks() {
    ExtAuthzFilter f = new ExtAuthzFilter(bodyConfig(false));
    f.setDecoderCallbacks(cb);
    assertThat(f.decodeHeaders(request(), false)).isEqualTo(HttpFilter.Status.STOP_ITERATION_WATCH_DATA);
    feed(f, "ab", false);
    assertThat(client.pending).isNull();
    feed(f, "cde", true);
    assertThat(new String(client.body, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("abcde");
    assertThat(client.partial).isFalse();
    client.pending.accept(ok());
    assertThat(cb.continueDecodingCalls).isEqualTo(1);
  }

  @Test
  void bodyAboveTheLimitIs413WithoutPartialMessages() {
    ExtAuthzFilter f = new ExtAuthzFilter(bodyConfig(false));
    f.setDecoderCallbacks(cb);
    f.decodeHeaders(request(), false);
    feed(f, "abcdef", false);
    assertThat(client.pending).isNull();
    assertThat(cb.localReply.status()).isEqualTo(413);
    assertThat(cb.localReply.body()).isEqualTo("Payload Too Large");
    assertThat(cb.localReply.details()).isEqualTo("request_payload_too_large");
    f.onDestroy();
  }

  @Test
  void partialMessageSendsTheFirstBytes() {
    ExtAuthzFilter f = new ExtAuthzFilter(bodyConfig(true));
    f.setDecoderCallbacks(cb);
    f.decodeHeaders(request(), false);
    feed(f, "abcdefgh", false);
    assertThat(new String(client.body, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("abcde");
    assertThat(client.partial).isTrue();
    feed(f, "ij", true);
    f.onDestroy();
    assertThat(client.cancelled).isTrue();
  }

  @Test
  void trailersEndTheBody() {
    ExtAuthzFilter f = new ExtAuthzFilter(bodyConfig(false));
    f.setDecoderCallbacks(cb);
    f.decodeHeaders(request(), false);
    feed(f, "xy", false);
    f.decodeTrailers(new DefaultHttp2Headers(false));
    assertThat(new String(client.body, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("xy");
    f.onDestroy();
  }

  static ExtAuthz parse(String json) throws Exception {
    ExtAuthz.Builder b = ExtAuthz.newBuilder();
    JsonFormat.parser().merge(json, b);
    return b.build();
  }

  @Test
  void configErrors() throws Exception {
    assertThatThrownBy(() -> ExtAuthzConfig.parse(parse("{}"), "f", "authz", stats.scope("http.t."), null))
        .isInstanceOf(ConfigException.class)
        .hasMessage("f: one of grpc_service or http_service must be set");
    assertThatThrownBy(() -> ExtAuthzConfig.parse(parse("{\"http_service\": {}}"), "f", "authz", stats.scope("http.t."), null))
        .hasMessage("f.http_service.server_uri: is required");
    assertThatThrownBy(() -> ExtAuthzConfig.parse(
            parse("{\"grpc_service\": {\"google_grpc\": {\"target_uri\": \"x:1\", \"stat_prefix\": \"s\"}},"
                + " \"status_on_error\": {\"code\": 1000}}"),
            "f", "authz", stats.scope("http.t."), null))
        .hasMessage("f.status_on_error.code: invalid HTTP status 1000");
    assertThatThrownBy(() -> new ExtAuthzFilterFactory().createRouteSpecificConfig(
            ExtAuthzPerRoute.newBuilder().setDisabled(false).build(), null, "r"))
        .hasMessage("r.disabled: must be true when set");
  }
}
