package io.legate.tracing;

import io.legate.http.HttpHeaderNames;
import io.legate.http.ResponseFlag;
import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import java.util.concurrent.TimeUnit;

/** The ingress span of a traced request, with Envoy's tags. Confined to the stream's worker. */
final class RealActiveSpan extends ActiveSpan {
  static final AttributeKey<String> NODE_ID = AttributeKey.stringKey("node_id");
  static final AttributeKey<String> ZONE = AttributeKey.stringKey("zone");
  static final AttributeKey<String> GUID_X_REQUEST_ID = AttributeKey.stringKey("guid:x-request-id");
  static final AttributeKey<String> GUID_X_CLIENT_TRACE_ID = AttributeKey.stringKey("guid:x-client-trace-id");
  static final AttributeKey<String> HTTP_URL = AttributeKey.stringKey("http.url");
  static final AttributeKey<String> HTTP_METHOD = AttributeKey.stringKey("http.method");
  static final AttributeKey<String> HTTP_PROTOCOL = AttributeKey.stringKey("http.protocol");
  static final AttributeKey<String> HTTP_STATUS_CODE = AttributeKey.stringKey("http.status_code");
  static final AttributeKey<String> DOWNSTREAM_CLUSTER = AttributeKey.stringKey("downstream_cluster");
  static final AttributeKey<String> USER_AGENT = AttributeKey.stringKey("user_agent");
  static final AttributeKey<String> PEER_ADDRESS = AttributeKey.stringKey("peer.address");
  static final AttributeKey<String> REQUEST_SIZE = AttributeKey.stringKey("request_size");
  static final AttributeKey<String> RESPONSE_SIZE = AttributeKey.stringKey("response_size");
  static final AttributeKey<String> COMPONENT = AttributeKey.stringKey("component");
  static final AttributeKey<String> UPSTREAM_CLUSTER = AttributeKey.stringKey("upstream_cluster");
  static final AttributeKey<String> UPSTREAM_CLUSTER_NAME = AttributeKey.stringKey("upstream_cluster.name");
  static final AttributeKey<String> UPSTREAM_ADDRESS = AttributeKey.stringKey("upstream_address");
  static final AttributeKey<String> RESPONSE_FLAGS = AttributeKey.stringKey("response_flags");
  static final AttributeKey<String> ERROR = AttributeKey.stringKey("error");
  static final AttributeKey<String> RETRY_COUNT = AttributeKey.stringKey("retry.count");
  static final AttributeKey<String> GRPC_PATH = AttributeKey.stringKey("grpc.path");
  static final AttributeKey<String> GRPC_AUTHORITY = AttributeKey.stringKey("grpc.authority");
  static final AttributeKey<String> GRPC_CONTENT_TYPE = AttributeKey.stringKey("grpc.content_type");
  static final AttributeKey<String> GRPC_TIMEOUT = AttributeKey.stringKey("grpc.timeout");
  static final AttributeKey<String> GRPC_STATUS_CODE = AttributeKey.stringKey("grpc.status_code");
  static final AttributeKey<String> GRPC_MESSAGE = AttributeKey.stringKey("grpc.message");

  private static final AsciiString USER_AGENT_HEADER = AsciiString.cached("user-agent");
  private static final AsciiString GRPC_TIMEOUT_HEADER = AsciiString.cached("grpc-timeout");
  private static final AsciiString GRPC_STATUS_HEADER = AsciiString.cached("grpc-status");
  private static final AsciiString GRPC_MESSAGE_HEADER = AsciiString.cached("grpc-message");

  private final HttpTracer tracer;
  private final Span span;
  private final long startEpochNanos;
  private final long startNanos;
  private boolean finished;

  RealActiveSpan(HttpTracer tracer, Span span, long startEpochNanos, long startNanos) {
    this.tracer = tracer;
    this.span = span;
    this.startEpochNanos = startEpochNanos;
    this.startNanos = startNanos;
  }

  /** Returns the SDK span (tests). */
  Span span() {
    return span;
  }

  @Override
  public String traceId() {
    return span.getSpanContext().getTraceId();
  }

  @Override
  public boolean traced() {
    return true;
  }

  private long nowEpochNanos() {
    return startEpochNanos + (System.nanoTime() - startNanos);
  }

  @Override
  public UpstreamSpan startUpstream(
      Http2Headers upstreamHeaders, String cluster, String upstreamAddress, boolean http2, int attempt) {
    TracerDriver driver = tracer.driver();
    if (!tracer.spawnUpstreamSpan()) {
      driver.inject(span, upstreamHeaders);
      return UpstreamSpan.NOOP;
    }
    Span child = driver.startChild(span, "router " + cluster + " egress", nowEpochNanos());
    driver.inject(child, upstreamHeaders);
    return new Upstream(child, cluster, upstreamAddress, http2 ? "HTTP/2" : "HTTP/1.1", attempt, upstreamHeaders);
  }

  @Override
  public void finish(StreamInfo info) {
    if (finished) {
      return;
    }
    finished = true;
    Span s = span;
    s.setAttribute(NODE_ID, tracer.nodeId());
    s.setAttribute(ZONE, tracer.zone());
    Http2Headers h = info.requestHeaders();
    if (h != null) {
      CharSequence rid = h.get(HttpHeaderNames.X_REQUEST_ID);
      if (rid != null) {
        s.setAttribute(GUID_X_REQUEST_ID, rid.toString());
      }
      s.setAttribute(HTTP_URL, url(h, tracer.maxPathTagLength()));
      s.setAttribute(HTTP_METHOD, str(h.method(), ""));
      s.setAttribute(DOWNSTREAM_CLUSTER, str(h.get(HttpHeaderNames.X_ENVOY_DOWNSTREAM_SERVICE_CLUSTER), "-"));
      s.setAttribute(USER_AGENT, str(h.get(USER_AGENT_HEADER), "-"));
      s.setAttribute(HTTP_PROTOCOL, info.protocol());
      s.setAttribute(PEER_ADDRESS, info.downstreamRemoteAddress().getAddress().getHostAddress());
      CharSequence clientTraceId = h.get(Sampling.X_CLIENT_TRACE_ID);
      if (clientTraceId != null) {
        s.setAttribute(GUID_X_CLIENT_TRACE_ID, clientTraceId.toString());
      }
      CharSequence ct = h.get(HttpHeaderNames.CONTENT_TYPE);
      if (ct != null && AsciiString.of(ct).startsWith("application/grpc")) {
        setIfPresent(s, GRPC_PATH, h.path());
        setIfPresent(s, GRPC_AUTHORITY, h.authority());
        setIfPresent(s, GRPC_CONTENT_TYPE, ct);
        setIfPresent(s, GRPC_TIMEOUT, h.get(GRPC_TIMEOUT_HEADER));
      }
    }
    s.setAttribute(REQUEST_SIZE, Long.toString(info.bytesReceived()));
    s.setAttribute(RESPONSE_SIZE, Long.toString(info.bytesSent()));
    if (info.upstreamHost() != null) {
      s.setAttribute(UPSTREAM_ADDRESS, info.upstreamHost());
    }
    commonTags(s, info.upstreamCluster(), info.responseCode(), info.responseFlags(), h);
    Http2Headers response = info.responseHeaders();
    if (response != null && response.contains(GRPC_STATUS_HEADER)) {
      grpcResponseTags(s, response);
    }
    s.end(nowEpochNanos(), TimeUnit.NANOSECONDS);
  }

  /** Envoy's {@code setCommonTags}: component, cluster, status, flags, error, custom tags. */
  private void commonTags(Span s, String cluster, int code, long flags, Http2Headers requestHeaders) {
    s.setAttribute(COMPONENT, "proxy");
    if (cluster != null) {
      s.setAttribute(UPSTREAM_CLUSTER, cluster);
      s.setAttribute(UPSTREAM_CLUSTER_NAME, cluster);
    }
    s.setAttribute(HTTP_STATUS_CODE, Integer.toString(code));
    s.setAttribute(RESPONSE_FLAGS, ResponseFlag.format(flags));
    if (code == 0 || (code >= 500 && code < 600)) {
      error(s);
    }
    for (CustomTag t : tracer.customTags()) {
      String v = t.valueFor(requestHeaders);
      if (v != null) {
        s.setAttribute(t.tag(), v);
      }
    }
  }

  private void error(Span s) {
    s.setAttribute(ERROR, "true");
    if (tracer.driver().style() == TracerDriver.Style.OPENTELEMETRY) {
      s.setStatus(StatusCode.ERROR);
    }
  }

  private void grpcResponseTags(Span s, Http2Headers h) {
    CharSequence status = h.get(GRPC_STATUS_HEADER);
    setIfPresent(s, GRPC_STATUS_CODE, status);
    setIfPresent(s, GRPC_MESSAGE, h.get(GRPC_MESSAGE_HEADER));
    int code;
    try {
      code = Integer.parseInt(status.toString().trim());
    } catch (NumberFormatException e) {
      return;
    }
    // Codes Envoy counts as upstream errors (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
    // RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, DATA_LOSS); the others are the client's.
    switch (code) {
      case 2, 4, 8, 12, 13, 14, 15 -> error(s);
      default -> {}
    }
  }

  /** Returns {@code scheme://host/path} with the path cut to {@code maxPath} characters (Envoy's buildOriginalUri). */
  static String url(Http2Headers h, int maxPath) {
    CharSequence path = h.get(HttpHeaderNames.X_ENVOY_ORIGINAL_PATH);
    if (path == null) {
      path = h.path();
    }
    if (path == null) {
      return "";
    }
    if (path.length() > maxPath) {
      path = path.subSequence(0, maxPath);
    }
    CharSequence scheme = h.scheme();
    if (scheme == null) {
      scheme = h.get(HttpHeaderNames.X_FORWARDED_PROTO);
    }
    CharSequence host = h.authority();
    if (host == null) {
      host = h.get(HttpHeaderNames.HOST);
    }
    return new StringBuilder(64)
        .append(scheme == null ? "http" : scheme)
        .append("://")
        .append(host == null ? "" : host)
        .append(path)
        .toString();
  }

  private static String str(CharSequence s, String dflt) {
    return s == null ? dflt : s.toString();
  }

  private static void setIfPresent(Span s, AttributeKey<String> key, CharSequence v) {
    if (v != null) {
      s.setAttribute(key, v.toString());
    }
  }

  /** The router's span of one upstream attempt. */
  private final class Upstream extends UpstreamSpan {
    private final Span child;
    private final String cluster;
    private final String address;
    private final String protocol;
    private final int attempt;
    private final Http2Headers requestHeaders;
    private boolean done;

    Upstream(Span child, String cluster, String address, String protocol, int attempt, Http2Headers requestHeaders) {
      this.child = child;
      this.cluster = cluster;
      this.address = address;
      this.protocol = protocol;
      this.attempt = attempt;
      this.requestHeaders = requestHeaders;
    }

    @Override
    public void finish(int upstreamResponseCode, StreamInfo info) {
      if (done) {
        return;
      }
      done = true;
      if (attempt > 1) {
        child.setAttribute(RETRY_COUNT, Integer.toString(attempt - 1));
      }
      child.setAttribute(HTTP_PROTOCOL, protocol);
      if (address != null) {
        child.setAttribute(UPSTREAM_ADDRESS, address);
        child.setAttribute(PEER_ADDRESS, address);
      }
      commonTags(child, cluster, upstreamResponseCode, info.responseFlags(), requestHeaders);
      child.end(nowEpochNanos(), TimeUnit.NANOSECONDS);
    }
  }
}
