package io.legate.http.filters.extauthz;

import io.legate.http.async.AsyncHttpClient;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.upstream.ClusterManager;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * ext_authz's HTTP mode: the request's method, {@code path_prefix} + path, host and allowed headers
 * (plus {@code headers_to_add}) are sent to the {@code server_uri} cluster without a body, through
 * {@link AsyncHttpClient}. 200 allows (copying the allowed upstream headers), a 5xx or a failure is
 * an error, any other status denies (passing status, body and the allowed client headers on).
 */
final class HttpAuthzClient implements AuthzClient {
  static final AsciiString HEADERS_TO_REMOVE = AsciiString.cached("x-envoy-auth-headers-to-remove");
  private static final AsciiString CONTENT_LENGTH = AsciiString.cached("content-length");
  private static final AsciiString ZERO = AsciiString.cached("0");
  private static final AsciiString PARTIAL_BODY = AsciiString.cached("x-envoy-auth-partial-body");
  private static final int MAX_RESPONSE_BYTES = 1 << 20;
  private static final NameMatcher ALWAYS_SENT = NameMatcher.exact(List.of("authorization"));
  private static final NameMatcher NOT_TO_CLIENT =
      NameMatcher.exact(List.of("host", "content-length", "transfer-encoding", "connection", "keep-alive",
          "date", "server"));
  private static final NameMatcher ALWAYS_TO_CLIENT =
      NameMatcher.exact(List.of("www-authenticate", "location"));

  /** The HTTP service's settings. {@code allowedClient} null means every header but a few. */
  record Settings(
      String cluster,
      String pathPrefix,
      long timeoutMs,
      NameMatcher allowedRequest,
      List<Map.Entry<AsciiString, String>> headersToAdd,
      NameMatcher allowedUpstream,
      NameMatcher allowedUpstreamAppend,
      NameMatcher allowedClient,
      NameMatcher allowedClientOnSuccess) {}

  private final ClusterManager clusters;
  private final Settings s;

  HttpAuthzClient(ClusterManager clusters, Settings settings) {
    this.clusters = clusters;
    this.s = settings;
  }

  @Override
  public Call check(Http2Headers headers, DecoderCallbacks callbacks, Map<String, String> contextExtensions,
      byte[] body, boolean partialBody, Consumer<AuthzResult> done) {
    Http2Headers req = new DefaultHttp2Headers(false);
    req.method(headers.method());
    CharSequence path = headers.path();
    req.path(s.pathPrefix() + (path == null ? "" : path));
    if (headers.authority() != null) {
      req.authority(headers.authority());
    }
    for (Map.Entry<CharSequence, CharSequence> e : headers) {
      CharSequence name = e.getKey();
      if (name.length() == 0 || name.charAt(0) == ':' || AsciiString.contentEqualsIgnoreCase(name, CONTENT_LENGTH)) {
        continue;
      }
      if (ALWAYS_SENT.matches(name) || (s.allowedRequest() != null && s.allowedRequest().matches(name))) {
        req.add(name, e.getValue());
      }
    }
    io.netty.buffer.ByteBuf content = null;
    if (body != null) {
      req.set(CONTENT_LENGTH, Integer.toString(body.length));
      req.set(PARTIAL_BODY, partialBody ? "true" : "false");
      content = io.netty.buffer.Unpooled.wrappedBuffer(body);
    } else {
      req.set(CONTENT_LENGTH, ZERO);
    }
    for (Map.Entry<AsciiString, String> e : s.headersToAdd()) {
      req.set(e.getKey(), e.getValue());
    }
    AsyncHttpClient.Call call =
        AsyncHttpClient.send(callbacks.eventLoop(), clusters, s.cluster(), req, content, s.timeoutMs(), MAX_RESPONSE_BYTES,
            new AsyncHttpClient.Callback() {
              @Override
              public void onSuccess(AsyncHttpClient.Response r) {
                done.accept(toResult(r));
              }

              @Override
              public void onFailure(boolean timeout, String reason) {
                done.accept(AuthzResult.error(timeout));
              }
            });
    return call::cancel;
  }

  AuthzResult toResult(AsyncHttpClient.Response r) {
    int status = r.status();
    if (status < 100 || status >= 500) {
      return AuthzResult.error(false);
    }
    Http2Headers h = r.headers();
    if (status == 200) {
      List<AuthzResult.HeaderOp> up = new ArrayList<>();
      List<AsciiString> remove = new ArrayList<>();
      List<AuthzResult.HeaderOp> client = new ArrayList<>();
      for (Map.Entry<CharSequence, CharSequence> e : h) {
        CharSequence name = e.getKey();
        if (name.length() == 0 || name.charAt(0) == ':') {
          continue;
        }
        AsciiString n = AsciiString.of(name);
        String v = e.getValue().toString();
        if (n.contentEqualsIgnoreCase(HEADERS_TO_REMOVE)) {
          for (String x : v.split(",")) {
            String t = x.trim().toLowerCase(java.util.Locale.ROOT);
            if (!t.isEmpty() && t.charAt(0) != ':' && !t.equals("host")) {
              remove.add(AsciiString.of(t));
            }
          }
          continue;
        }
        if (s.allowedUpstream() != null && s.allowedUpstream().matches(n)) {
          up.add(new AuthzResult.HeaderOp(n, v, AuthzResult.Op.SET));
        }
        if (s.allowedUpstreamAppend() != null && s.allowedUpstreamAppend().matches(n)) {
          up.add(new AuthzResult.HeaderOp(n, v, AuthzResult.Op.APPEND));
        }
        if (s.allowedClientOnSuccess() != null && s.allowedClientOnSuccess().matches(n)) {
          client.add(new AuthzResult.HeaderOp(n, v, AuthzResult.Op.ADD));
        }
      }
      return new AuthzResult(AuthzResult.Kind.OK, false, 0, "", up, remove, client);
    }
    List<AuthzResult.HeaderOp> client = new ArrayList<>();
    for (Map.Entry<CharSequence, CharSequence> e : h) {
      CharSequence name = e.getKey();
      if (name.length() == 0 || name.charAt(0) == ':') {
        continue;
      }
      boolean pass = s.allowedClient() == null
          ? !NOT_TO_CLIENT.matches(name)
          : s.allowedClient().matches(name) || ALWAYS_TO_CLIENT.matches(name);
      if (pass && !AsciiString.contentEqualsIgnoreCase(name, CONTENT_LENGTH)) {
        client.add(new AuthzResult.HeaderOp(AsciiString.of(name), e.getValue().toString(), AuthzResult.Op.ADD));
      }
    }
    return new AuthzResult(AuthzResult.Kind.DENIED, false, status, new String(r.body(), StandardCharsets.UTF_8),
        List.of(), List.of(), client);
  }
}
