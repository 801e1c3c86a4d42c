package io.legate.http.filters.jwtauthn;

import io.legate.http.HttpHeaderNames;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.router.Route;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * Envoy's jwt_authn filter on one stream: picks the requirement (per-route config, else the first
 * matching rule), fetches remote keys it needs and has not cached (the request waits, the worker
 * does not), verifies, then continues or answers 401/403 with Envoy's texts and {@code
 * www-authenticate}.
 */
final class JwtAuthnFilter implements HttpFilter {
  static final String METADATA_NAMESPACE = "envoy.filters.http.jwt_authn";

  static final AsciiString WWW_AUTHENTICATE = AsciiString.cached("www-authenticate");
  static final AsciiString ORIGIN = AsciiString.cached("origin");
  static final AsciiString ACCESS_CONTROL_REQUEST_METHOD = AsciiString.cached("access-control-request-method");
  private static final int MAX_URI_PATH = 256;

  private enum State {
    INIT,
    CALLING,
    COMPLETE,
    RESPONDED
  }

  private final JwtAuthnConfig config;
  private DecoderCallbacks callbacks;
  private State state = State.INIT;
  private boolean stopped;
  private boolean destroyed;
  private Http2Headers headers;
  private Requirement requirement;
  private String originalUri;
  private int pendingFetches;

  JwtAuthnFilter(JwtAuthnConfig config) {
    this.config = config;
  }

  @Override
  public void setDecoderCallbacks(DecoderCallbacks callbacks) {
    this.callbacks = callbacks;
  }

  @Override
  public Status decodeHeaders(Http2Headers headers, boolean endStream) {
    state = State.CALLING;
    if (config.bypassCorsPreflight && isCorsPreflight(headers)) {
      config.corsPreflightBypassed.inc();
      onComplete(JwtStatus.OK);
      return Status.CONTINUE;
    }
    Route route = callbacks.route();
    Object perRoute = route == null ? null : route.perFilterConfig(config.filterName);
    Requirement req;
    if (perRoute instanceof JwtAuthnPerRoute pr) {
      if (pr.disabled()) {
        req = null;
      } else {
        req = config.requirementMap.get(pr.requirementName());
        if (req == null) {
          config.denied.inc();
          state = State.RESPONDED;
          String msg = "Wrong requirement_name: " + pr.requirementName();
          callbacks.sendLocalReply(
              403, "Failed JWT authentication: " + msg, null,
              "jwt_authn_access_denied{" + msg.replace(' ', '_') + "}");
          return Status.STOP_ITERATION;
        }
      }
    } else {
      req = config.match(headers);
    }
    if (req == null) {
      onComplete(JwtStatus.OK);
      return Status.CONTINUE;
    }
    this.headers = headers;
    this.requirement = req;
    this.originalUri = originalUri(headers);
    for (AsciiString h : config.payloadHeaders) {
      headers.remove(h);
    }
    List<JwksSource> remote = config.remoteSources(req);
    int needed = 0;
    for (JwksSource s : remote) {
      if (s.needsFetch()) {
        needed++;
      }
    }
    if (needed > 0 && !config.allProviders.extract(headers).isEmpty()) {
      pendingFetches = needed;
      for (JwksSource s : remote) {
        if (s.needsFetch()) {
          s.fetch(callbacks.eventLoop(), this::onFetched);
        }
      }
    } else {
      verify();
    }
    if (state == State.COMPLETE) {
      return Status.CONTINUE;
    }
    stopped = true;
    return Status.STOP_ITERATION;
  }

  private void onFetched() {
    if (destroyed || state != State.CALLING) {
      return;
    }
    if (--pendingFetches == 0) {
      verify();
    }
  }

  private void verify() {
    Verification v = new Verification(headers, config.clockSeconds.getAsLong());
    JwtStatus status = v.verify(requirement);
    if (status == JwtStatus.OK && v.metadata() != null) {
      // As Envoy: verified payloads under their payload_in_metadata keys, in the filter's namespace.
      callbacks.streamInfo().setDynamicMetadata(METADATA_NAMESPACE, v.metadata());
    }
    if (status == JwtStatus.OK && v.clearRouteCache()) {
      callbacks.clearRouteCache();
    }
    onComplete(status);
  }

  private void onComplete(JwtStatus status) {
    if (state == State.RESPONDED || destroyed) {
      return;
    }
    if (status != JwtStatus.OK) {
      config.denied.inc();
      state = State.RESPONDED;
      int code = status == JwtStatus.JWT_AUDIENCE_NOT_ALLOWED ? 403 : 401;
      if (config.stripFailureResponse) {
        callbacks.sendLocalReply(code, "", null, status.details());
        return;
      }
      String value = "Bearer realm=\"" + originalUri + "\""
          + (status == JwtStatus.JWT_MISSED ? "" : ", error=\"invalid_token\"");
      Http2Headers extra = new DefaultHttp2Headers(false).set(WWW_AUTHENTICATE, value);
      callbacks.sendLocalReply(code, status.text(), extra, status.details());
      return;
    }
    config.allowed.inc();
    state = State.COMPLETE;
    if (stopped) {
      callbacks.continueDecoding();
    }
  }

  /** Returns {@code <x-forwarded-proto>://<host><path>} with the path cut at 256 characters, as Envoy's buildOriginalUri. */
  static String originalUri(Http2Headers h) {
    CharSequence path = h.get(HttpHeaderNames.X_ENVOY_ORIGINAL_PATH);
    if (path == null) {
      path = h.path();
    }
    if (path == null) {
      return "";
    }
    String p = path.toString();
    if (p.length() > MAX_URI_PATH) {
      p = p.substring(0, MAX_URI_PATH);
    }
    CharSequence proto = h.get(HttpHeaderNames.X_FORWARDED_PROTO);
    CharSequence host = h.authority();
    return (proto == null ? "" : proto) + "://" + (host == null ? "" : host) + p;
  }

  private static boolean isCorsPreflight(Http2Headers h) {
    CharSequence m = h.method();
    CharSequence origin = h.get(ORIGIN);
    CharSequence acrm = h.get(ACCESS_CONTROL_REQUEST_METHOD);
    return m != null && AsciiString.contentEquals(m, "OPTIONS")
        && origin != null && origin.length() > 0 && acrm != null && acrm.length() > 0;
  }

  @Override
  public void onDestroy() {
    destroyed = true;
  }
}
