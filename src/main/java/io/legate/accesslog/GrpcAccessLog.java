package io.legate.accesslog;

import com.google.protobuf.Duration;
import com.google.protobuf.Timestamp;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.config.core.v3.RequestMethod;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.data.accesslog.v3.AccessLogCommon;
import io.envoyproxy.envoy.data.accesslog.v3.HTTPAccessLogEntry;
import io.envoyproxy.envoy.data.accesslog.v3.HTTPRequestProperties;
import io.envoyproxy.envoy.data.accesslog.v3.HTTPResponseProperties;
import io.envoyproxy.envoy.data.accesslog.v3.ResponseFlags;
import io.envoyproxy.envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig;
import io.envoyproxy.envoy.service.accesslog.v3.AccessLogServiceGrpc;
import io.envoyproxy.envoy.service.accesslog.v3.StreamAccessLogsMessage;
import io.envoyproxy.envoy.service.accesslog.v3.StreamAccessLogsResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.legate.config.ConfigException;
import io.legate.grpc.GrpcChannels;
import io.legate.http.ResponseFlag;
import io.legate.http.StreamInfo;
import io.legate.upstream.ClusterManager;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Envoy's {@code envoy.access_loggers.http_grpc}: each finished stream becomes an {@code
 * HTTPAccessLogEntry} sent to the access log service ({@code
 * envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs}) on one long-lived client stream;
 * the first message of each stream carries the identifier (local node, {@code log_name}).
 *
 * <p>The worker only copies the few values the entry needs into a small record and queues it
 * (lock-free); protos are built and sent by one shared flush thread every {@code
 * buffer_flush_interval} (default 1 s), or sooner once about {@code buffer_size_bytes} (default
 * 16 KiB) are waiting. When the stream is not ready (flow control) or the queue is over 64 Ki
 * entries, entries are dropped and counted rather than buffered without bound.
 */
final class GrpcAccessLog implements AccessLog {
  private static final ScheduledExecutorService FLUSHER = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "legate-accesslog-grpc");
    t.setDaemon(true);
    return t;
  });
  private static final int MAX_QUEUED = 65536;
  private static volatile Node localNode = Node.getDefaultInstance();

  private final String logName;
  private final GrpcService service;
  private final GrpcChannels channels;
  private final long bufferBytes;
  private final ConcurrentLinkedQueue<Captured> queue = new ConcurrentLinkedQueue<>();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final AtomicLong queuedCount = new AtomicLong();
  private final AtomicBoolean flushScheduled = new AtomicBoolean();
  final LongAdder dropped = new LongAdder();
  // Flush thread only.
  private ClientCallStreamObserver<StreamAccessLogsMessage> stream;
  private int sentWhileNotReady;

  /** What the worker copies out of a finished stream. */
  private record Captured(
      long startMillis, long durationNanos, InetSocketAddress remote, InetSocketAddress local, String protocol,
      String method, String scheme, String authority, String path, String userAgent, String referer,
      String forwardedFor, String requestId, long bytesReceived, long bytesSent, int responseCode,
      String responseCodeDetails, long flags, String upstreamHost, String upstreamCluster, String routeName) {
    long approxBytes() {
      return 96 + len(authority) + len(path) + len(userAgent) + len(referer) + len(forwardedFor) + len(requestId)
          + len(upstreamCluster) + len(routeName) + len(responseCodeDetails);
    }

    private static int len(String s) {
      return s == null ? 0 : s.length();
    }
  }

  private GrpcAccessLog(String logName, GrpcService service, GrpcChannels channels, long bufferBytes, long flushMs) {
    this.logName = logName;
    this.service = service;
    this.channels = channels;
    this.bufferBytes = bufferBytes;
    // The task holds the logger weakly: a logger dropped with its config (xDS update) stops flushing.
    java.lang.ref.WeakReference<GrpcAccessLog> self = new java.lang.ref.WeakReference<>(this);
    java.util.concurrent.atomic.AtomicReference<java.util.concurrent.ScheduledFuture<?>> task =
        new java.util.concurrent.atomic.AtomicReference<>();
    task.set(FLUSHER.scheduleWithFixedDelay(() -> {
      GrpcAccessLog l = self.get();
      if (l == null) {
        task.get().cancel(false);
        return;
      }
      l.flush();
    }, flushMs, flushMs, TimeUnit.MILLISECONDS));
  }

  /** Sets the node sent in the identifier of every stream (the server's {@code node}). */
  static void setLocalNode(Node node) {
    localNode = node;
  }

  /** Returns the server's node (for the identifiers and labels of gRPC access logs). */
  static Node localNode() {
    return localNode;
  }

  static GrpcAccessLog create(HttpGrpcAccessLogConfig config, String path, ClusterManager clusters) {
    if (clusters == null) {
      throw new ConfigException(path, "envoy.access_loggers.http_grpc is not available here");
    }
    if (!config.hasCommonConfig()) {
      throw new ConfigException(path + ".common_config", "value is required");
    }
    var common = config.getCommonConfig();
    String cp = path + ".common_config";
    if (common.getLogName().isEmpty()) {
      throw new ConfigException(cp + ".log_name", "value length must be at least 1 characters");
    }
    if (common.getTransportApiVersion() != ApiVersion.V3) {
      throw new ConfigException(cp + ".transport_api_version", "only V3 is supported");
    }
    if (!common.hasGrpcService()) {
      throw new ConfigException(cp + ".grpc_service", "value is required");
    }
    GrpcChannels.validate(common.getGrpcService(), cp + ".grpc_service", clusters);
    if (config.getAdditionalRequestHeadersToLogCount() > 0 || config.getAdditionalResponseHeadersToLogCount() > 0
        || config.getAdditionalResponseTrailersToLogCount() > 0) {
      throw new ConfigException(path, "additional_*_headers_to_log are not supported yet");
    }
    long bufferBytes = common.hasBufferSizeBytes() ? common.getBufferSizeBytes().getValue() : 16384;
    long flushMs = 1000;
    if (common.hasBufferFlushInterval()) {
      flushMs = common.getBufferFlushInterval().getSeconds() * 1000 + common.getBufferFlushInterval().getNanos() / 1_000_000;
      if (flushMs <= 0) {
        throw new ConfigException(cp + ".buffer_flush_interval", "value must be greater than 0s");
      }
    }
    return new GrpcAccessLog(common.getLogName(), common.getGrpcService(), clusters.grpcChannels(), bufferBytes, flushMs);
  }

  @Override
  public void log(StreamInfo info) {
    if (queuedCount.get() >= MAX_QUEUED) {
      dropped.increment();
      return;
    }
    Http2Headers h = info.requestHeaders();
    Captured c = new Captured(
        info.startTimeMillis(), System.nanoTime() - info.startNanos(), info.downstreamRemoteAddress(),
        info.downstreamLocalAddress(), info.protocol(), header(h, h == null ? null : h.method()),
        header(h, h == null ? null : h.scheme()), header(h, h == null ? null : h.authority()),
        header(h, h == null ? null : h.path()), header(h, "user-agent"), header(h, "referer"),
        header(h, "x-forwarded-for"), header(h, "x-request-id"), info.bytesReceived(), info.bytesSent(),
        info.responseCode(), info.responseCodeDetails(), info.responseFlags(), info.upstreamHost(),
        info.upstreamCluster(), info.routeName());
    queue.add(c);
    queuedCount.incrementAndGet();
    if (queuedBytes.addAndGet(c.approxBytes()) >= bufferBytes && flushScheduled.compareAndSet(false, true)) {
      FLUSHER.execute(this::flush);
    }
  }

  private static String header(Http2Headers h, CharSequence valueOrName) {
    return valueOrName == null ? null : valueOrName.toString();
  }

  private static String header(Http2Headers h, String name) {
    if (h == null) {
      return null;
    }
    CharSequence v = h.get(name);
    return v == null ? null : v.toString();
  }

  private void flush() {
    flushScheduled.set(false);
    if (queue.isEmpty()) {
      return;
    }
    List<HTTPAccessLogEntry> entries = new ArrayList<>();
    Captured c;
    while ((c = queue.poll()) != null) {
      queuedCount.decrementAndGet();
      queuedBytes.addAndGet(-c.approxBytes());
      entries.add(entry(c));
    }
    StreamAccessLogsMessage.Builder msg = StreamAccessLogsMessage.newBuilder();
    msg.getHttpLogsBuilder().addAllLogEntry(entries);
    try {
      if (stream == null) {
        stream = open();
        sentWhileNotReady = 0;
        msg.getIdentifierBuilder().setNode(localNode).setLogName(logName);
      }
      // grpc-java buffers what is sent before the stream is ready; a few messages ride on that
      // (the stream is still connecting), beyond that a backed-up stream drops the batch.
      if (stream.isReady()) {
        sentWhileNotReady = 0;
      } else if (++sentWhileNotReady > 16) {
        dropped.add(entries.size());
        return;
      }
      stream.onNext(msg.build());
    } catch (RuntimeException e) {
      dropped.add(entries.size());
      stream = null;
    }
  }

  private ClientCallStreamObserver<StreamAccessLogsMessage> open() {
    @SuppressWarnings("unchecked")
    ClientCallStreamObserver<StreamAccessLogsMessage>[] out = new ClientCallStreamObserver[1];
    AccessLogServiceGrpc.newStub(channels.channel(service)).streamAccessLogs(
        new ClientResponseObserver<StreamAccessLogsMessage, StreamAccessLogsResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<StreamAccessLogsMessage> requestStream) {
            out[0] = requestStream;
          }

          @Override
          public void onNext(StreamAccessLogsResponse value) {}

          @Override
          public void onError(Throwable t) {
            ended(out[0]);
          }

          @Override
          public void onCompleted() {
            ended(out[0]);
          }
        });
    return out[0];
  }

  /** The stream ended: the next flush opens a new one (with the identifier again). */
  private void ended(ClientCallStreamObserver<StreamAccessLogsMessage> s) {
    FLUSHER.execute(() -> {
      if (stream == s) {
        stream = null;
      }
    });
  }

  static HTTPAccessLogEntry entry(Captured c) {
    AccessLogCommon.Builder common = AccessLogCommon.newBuilder()
        .setSampleRate(1.0)
        .setStartTime(Timestamp.newBuilder().setSeconds(c.startMillis() / 1000)
            .setNanos((int) (c.startMillis() % 1000) * 1_000_000))
        .setTimeToLastDownstreamTxByte(Duration.newBuilder().setSeconds(c.durationNanos() / 1_000_000_000L)
            .setNanos((int) (c.durationNanos() % 1_000_000_000L)))
        .setResponseFlags(flags(c.flags()));
    if (c.remote() != null) {
      common.setDownstreamRemoteAddress(io.legate.network.ProtoAddresses.of(c.remote()));
      common.setDownstreamDirectRemoteAddress(io.legate.network.ProtoAddresses.of(c.remote()));
    }
    if (c.local() != null) {
      common.setDownstreamLocalAddress(io.legate.network.ProtoAddresses.of(c.local()));
    }
    if (c.upstreamHost() != null && !c.upstreamHost().isEmpty()) {
      common.setUpstreamRemoteAddress(io.legate.network.ProtoAddresses.fromHostPort(c.upstreamHost()));
    }
    if (c.upstreamCluster() != null) {
      common.setUpstreamCluster(c.upstreamCluster());
    }
    if (c.routeName() != null) {
      common.setRouteName(c.routeName());
    }
    HTTPRequestProperties.Builder req = HTTPRequestProperties.newBuilder()
        .setRequestBodyBytes(c.bytesReceived());
    if (c.method() != null) {
      try {
        req.setRequestMethod(RequestMethod.valueOf(c.method()));
      } catch (IllegalArgumentException e) {
        req.setRequestMethod(RequestMethod.METHOD_UNSPECIFIED);
      }
    }
    set(c.scheme(), req::setScheme);
    set(c.authority(), req::setAuthority);
    set(c.path(), req::setPath);
    set(c.userAgent(), req::setUserAgent);
    set(c.referer(), req::setReferer);
    set(c.forwardedFor(), req::setForwardedFor);
    set(c.requestId(), req::setRequestId);
    HTTPResponseProperties.Builder resp = HTTPResponseProperties.newBuilder()
        .setResponseBodyBytes(c.bytesSent());
    if (c.responseCode() > 0) {
      resp.setResponseCode(UInt32Value.of(c.responseCode()));
    }
    set(c.responseCodeDetails(), resp::setResponseCodeDetails);
    return HTTPAccessLogEntry.newBuilder()
        .setCommonProperties(common)
        .setProtocolVersion(protocol(c.protocol()))
        .setRequest(req)
        .setResponse(resp)
        .build();
  }

  private static void set(String v, java.util.function.Consumer<String> setter) {
    if (v != null && !v.isEmpty()) {
      setter.accept(v);
    }
  }

  private static HTTPAccessLogEntry.HTTPVersion protocol(String p) {
    if (p == null) {
      return HTTPAccessLogEntry.HTTPVersion.PROTOCOL_UNSPECIFIED;
    }
    return switch (p) {
      case "HTTP/1.0" -> HTTPAccessLogEntry.HTTPVersion.HTTP10;
      case "HTTP/1.1" -> HTTPAccessLogEntry.HTTPVersion.HTTP11;
      case "HTTP/2" -> HTTPAccessLogEntry.HTTPVersion.HTTP2;
      case "HTTP/3" -> HTTPAccessLogEntry.HTTPVersion.HTTP3;
      default -> HTTPAccessLogEntry.HTTPVersion.PROTOCOL_UNSPECIFIED;
    };
  }



  static ResponseFlags flags(long bits) {
    ResponseFlags.Builder b = ResponseFlags.newBuilder();
    for (ResponseFlag f : ResponseFlag.values()) {
      if ((bits & (1L << f.ordinal())) == 0) {
        continue;
      }
      switch (f) {
        case FAILED_LOCAL_HEALTH_CHECK -> b.setFailedLocalHealthcheck(true);
        case NO_HEALTHY_UPSTREAM -> b.setNoHealthyUpstream(true);
        case UPSTREAM_REQUEST_TIMEOUT -> b.setUpstreamRequestTimeout(true);
        case LOCAL_RESET -> b.setLocalReset(true);
        case UPSTREAM_REMOTE_RESET -> b.setUpstreamRemoteReset(true);
        case UPSTREAM_CONNECTION_FAILURE -> b.setUpstreamConnectionFailure(true);
        case UPSTREAM_CONNECTION_TERMINATION -> b.setUpstreamConnectionTermination(true);
        case UPSTREAM_OVERFLOW -> b.setUpstreamOverflow(true);
        case NO_ROUTE_FOUND -> b.setNoRouteFound(true);
        case DELAY_INJECTED -> b.setDelayInjected(true);
        case FAULT_INJECTED -> b.setFaultInjected(true);
        case RATE_LIMITED -> b.setRateLimited(true);
        case UNAUTHORIZED_EXTERNAL_SERVICE -> b.getUnauthorizedDetailsBuilder()
            .setReason(ResponseFlags.Unauthorized.Reason.EXTERNAL_SERVICE);
        case RATELIMIT_SERVICE_ERROR -> b.setRateLimitServiceError(true);
        case DOWNSTREAM_CONNECTION_TERMINATION -> b.setDownstreamConnectionTermination(true);
        case UPSTREAM_RETRY_LIMIT_EXCEEDED -> b.setUpstreamRetryLimitExceeded(true);
        case STREAM_IDLE_TIMEOUT -> b.setStreamIdleTimeout(true);
        case INVALID_ENVOY_REQUEST_HEADERS -> b.setInvalidEnvoyRequestHeaders(true);
        case DOWNSTREAM_PROTOCOL_ERROR -> b.setDownstreamProtocolError(true);
        case UPSTREAM_MAX_STREAM_DURATION_REACHED -> b.setUpstreamMaxStreamDurationReached(true);
        case RESPONSE_FROM_CACHE_FILTER -> b.setResponseFromCacheFilter(true);
        case NO_FILTER_CONFIG_FOUND -> b.setNoFilterConfigFound(true);
        case DURATION_TIMEOUT -> b.setDurationTimeout(true);
        case UPSTREAM_PROTOCOL_ERROR -> b.setUpstreamProtocolError(true);
        case NO_CLUSTER_FOUND -> b.setNoClusterFound(true);
        case OVERLOAD_MANAGER -> b.setOverloadManager(true);
        case DNS_RESOLUTION_FAILURE -> b.setDnsResolutionFailure(true);
        default -> { }
      }
    }
    return b.build();
  }
}
