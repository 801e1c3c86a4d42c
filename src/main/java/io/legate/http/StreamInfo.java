package io.legate.http;

import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetSocketAddress;

/**
 * What is known about one HTTP stream: timing, addresses, protocol, result. Confined to the stream's
 * worker. Header formatters and access logs read it.
 */
public final class StreamInfo {
  private final long startTimeMillis;
  private final long startNanos;
  private final InetSocketAddress downstreamRemoteAddress;
  private InetSocketAddress downstreamClientAddress;
  private final InetSocketAddress downstreamLocalAddress;
  private final String protocol;
  private Http2Headers requestHeaders;
  private Http2Headers responseHeaders;
  private int responseCode;
  private long responseFlags;
  private String upstreamHost;
  private String upstreamCluster;
  private String routeName;
  private long bytesReceived;
  private long bytesSent;
  private String responseCodeDetails;
  private boolean healthCheck;
  private Http2Headers responseTrailers;
  private FilterState filterState;
  private io.netty.channel.Channel connection;
  /** {@link System#nanoTime()} of the request's last byte, the first upstream response byte, the response's last byte; {@link #UNSET} when not reached. */
  private long lastDownstreamRxNanos = UNSET;
  private long firstUpstreamRxNanos = UNSET;
  private long lastDownstreamTxNanos = UNSET;
  private InetSocketAddress upstreamLocalAddress;
  private InetSocketAddress upstreamRemoteAddress;
  private String upstreamTransportFailureReason;
  private String traceId;
  private java.util.Map<String, com.google.protobuf.Struct> dynamicMetadata;

  /** The value of a timestamp not reached. */
  public static final long UNSET = Long.MIN_VALUE;

  public StreamInfo(
      long startTimeMillis,
      long startNanos,
      InetSocketAddress downstreamRemoteAddress,
      InetSocketAddress downstreamLocalAddress,
      String protocol) {
    this.startTimeMillis = startTimeMillis;
    this.startNanos = startNanos;
    this.downstreamRemoteAddress = downstreamRemoteAddress;
    this.downstreamLocalAddress = downstreamLocalAddress;
    this.protocol = protocol;
  }

  /** Returns the stream's filter state, created on first use. */
  public FilterState filterState() {
    if (filterState == null) {
      filterState = new FilterState();
    }
    return filterState;
  }

  /** Returns the stream's filter state, or null when nothing has been stored in it. */
  public FilterState filterStateIfPresent() {
    return filterState;
  }

  /** Wall-clock start of the stream, ms since the epoch. */
  public long startTimeMillis() {
    return startTimeMillis;
  }

  /** Monotonic start of the stream ({@link System#nanoTime()}). */
  public long startNanos() {
    return startNanos;
  }

  public InetSocketAddress downstreamRemoteAddress() {
    return downstreamRemoteAddress;
  }

  /**
   * Returns the client address as the connection manager derived it (Envoy's downstream remote
   * address): from {@code x-forwarded-for} under {@code use_remote_address}/{@code
   * xff_num_trusted_hops}, else the direct peer ({@link #downstreamRemoteAddress()}).
   */
  public InetSocketAddress downstreamClientAddress() {
    return downstreamClientAddress != null ? downstreamClientAddress : downstreamRemoteAddress;
  }

  /** Sets the client address derived from {@code x-forwarded-for} (port 0, as Envoy's). */
  public void setDownstreamClientAddress(InetSocketAddress a) {
    this.downstreamClientAddress = a;
  }

  public InetSocketAddress downstreamLocalAddress() {
    return downstreamLocalAddress;
  }

  /** "HTTP/1.1", "HTTP/1.0" or "HTTP/2". */
  public String protocol() {
    return protocol;
  }

  public Http2Headers requestHeaders() {
    return requestHeaders;
  }

  public void setRequestHeaders(Http2Headers h) {
    this.requestHeaders = h;
  }

  public Http2Headers responseHeaders() {
    return responseHeaders;
  }

  public void setResponseHeaders(Http2Headers h) {
    this.responseHeaders = h;
  }

  public int responseCode() {
    return responseCode;
  }

  public void setResponseCode(int code) {
    this.responseCode = code;
  }

  public long responseFlags() {
    return responseFlags;
  }

  public boolean hasResponseFlag(ResponseFlag f) {
    return (responseFlags & f.bit()) != 0;
  }

  public void addResponseFlag(ResponseFlag f) {
    responseFlags |= f.bit();
  }

  /** The selected upstream host as {@code ip:port}, or null before one is chosen. */
  public String upstreamHost() {
    return upstreamHost;
  }

  public void setUpstreamHost(String hostAndPort) {
    this.upstreamHost = hostAndPort;
  }

  public String upstreamCluster() {
    return upstreamCluster;
  }

  public void setUpstreamCluster(String name) {
    this.upstreamCluster = name;
  }

  public String routeName() {
    return routeName;
  }

  public void setRouteName(String name) {
    this.routeName = name;
  }

  public long bytesReceived() {
    return bytesReceived;
  }

  public void addBytesReceived(long n) {
    bytesReceived += n;
  }

  public long bytesSent() {
    return bytesSent;
  }

  public void addBytesSent(long n) {
    bytesSent += n;
  }

  /** Returns the response trailers, or null when the response had none. */
  public Http2Headers responseTrailers() {
    return responseTrailers;
  }

  public void setResponseTrailers(Http2Headers trailers) {
    this.responseTrailers = trailers;
  }

  /** Returns whether the health_check filter recognised the request as a health check. */
  public boolean healthCheck() {
    return healthCheck;
  }

  /** Marks the request as a health check (Envoy's {@code is_health_check}). */
  public void setHealthCheck(boolean healthCheck) {
    this.healthCheck = healthCheck;
  }

  /** The downstream connection's id (Envoy's {@code CONNECTION_ID}), or -1 when unknown. */
  /** The downstream connection's id (Envoy's {@code CONNECTION_ID}), or -1 when unknown. */
  public long connectionId() {
    return connection == null ? -1 : io.legate.network.DownstreamConnections.id(connection);
  }

  public String responseCodeDetails() {
    return responseCodeDetails;
  }

  public void setResponseCodeDetails(String details) {
    this.responseCodeDetails = details;
  }

  /** Returns the filter state object stored under {@code name}, or null. */
  public FilterState.StateObject filterState(String name) {
    return filterState == null ? null : filterState.get(name);
  }

  /** Stores a (mutable) filter state object under {@code name}, replacing a mutable one before it. */
  public void setFilterState(String name, FilterState.StateObject value) {
    filterState().set(name, value, false);
  }

  /** Sets the downstream connection (for HTTP/2 the parent channel): its id and SNI are read from it. */
  public void setDownstreamConnection(io.netty.channel.Channel connection) {
    this.connection = connection;
  }


  /** Returns the SNI of the downstream TLS connection, or null. */
  public String requestedServerName() {
    return connection == null ? null : io.legate.network.DownstreamConnections.requestedServerName(connection);
  }

  /** Marks the last request byte received from downstream (first call wins). */
  public void onLastDownstreamRxByte(long nanos) {
    if (lastDownstreamRxNanos == UNSET) {
      lastDownstreamRxNanos = nanos;
    }
  }

  /** Marks the first byte of the (forwarded) upstream response received (first call wins). */
  public void onFirstUpstreamRxByte(long nanos) {
    if (firstUpstreamRxNanos == UNSET) {
      firstUpstreamRxNanos = nanos;
    }
  }

  /** Marks the last response byte sent downstream (first call wins). */
  public void onLastDownstreamTxByte(long nanos) {
    if (lastDownstreamTxNanos == UNSET) {
      lastDownstreamTxNanos = nanos;
    }
  }

  public long lastDownstreamRxNanos() {
    return lastDownstreamRxNanos;
  }

  public long firstUpstreamRxNanos() {
    return firstUpstreamRxNanos;
  }

  public long lastDownstreamTxNanos() {
    return lastDownstreamTxNanos;
  }

  /** Local address of the upstream connection the request used, or null. */
  public InetSocketAddress upstreamLocalAddress() {
    return upstreamLocalAddress;
  }

  /** Remote address of the upstream connection the request used, or null. */
  public InetSocketAddress upstreamRemoteAddress() {
    return upstreamRemoteAddress;
  }

  public void setUpstreamAddresses(InetSocketAddress local, InetSocketAddress remote) {
    this.upstreamLocalAddress = local;
    this.upstreamRemoteAddress = remote;
  }

  /** Why the upstream connection failed at the transport level (e.g. a TLS error), or null. */
  public String upstreamTransportFailureReason() {
    return upstreamTransportFailureReason;
  }

  public void setUpstreamTransportFailureReason(String reason) {
    this.upstreamTransportFailureReason = reason;
  }

  /** The trace id of the stream's active span (hex), or null when not traced. */
  public String traceId() {
    return traceId;
  }

  public void setTraceId(String traceId) {
    this.traceId = traceId;
  }

  /** Returns the dynamic metadata of {@code namespace} (Envoy's filter_metadata), or null. */
  public com.google.protobuf.Struct dynamicMetadata(String namespace) {
    return dynamicMetadata == null ? null : dynamicMetadata.get(namespace);
  }

  /** Returns all dynamic metadata by namespace (unmodifiable; empty when none). */
  public java.util.Map<String, com.google.protobuf.Struct> dynamicMetadata() {
    return dynamicMetadata == null ? java.util.Map.of() : java.util.Collections.unmodifiableMap(dynamicMetadata);
  }

  /**
   * Merges {@code fields} into the namespace's metadata, as Envoy's {@code setDynamicMetadata}: a
   * key already there is replaced.
   */
  public void setDynamicMetadata(String namespace, com.google.protobuf.Struct fields) {
    if (dynamicMetadata == null) {
      dynamicMetadata = new java.util.LinkedHashMap<>();
    }
    com.google.protobuf.Struct old = dynamicMetadata.get(namespace);
    dynamicMetadata.put(namespace, old == null ? fields : old.toBuilder().putAllFields(fields.getFieldsMap()).build());
  }
}
