package io.legate.http;

import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.EncoderCallbacks;
import io.legate.http.filter.HttpFilter;
import io.legate.network.LoopTimers;
import io.legate.router.Route;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One HTTP stream in the connection manager: runs the request through the decoder filters and the
 * response back through the encoder filters (Envoy's {@code ActiveStream}). Confined to its worker.
 */
public final class ActiveStream implements DecoderCallbacks, EncoderCallbacks {
  private static final AsciiString HTTP = AsciiString.cached("http");
  private static final AsciiString HTTPS = AsciiString.cached("https");
  private static final AsciiString TRUE = AsciiString.cached("true");

  private enum Kind {
    HEADERS,
    DATA,
    TRAILERS
  }

  private static final class Item {
    final Kind kind;
    final Http2Headers headers;
    ByteBuf data;
    final boolean end;
    int next;

    Item(Kind kind, Http2Headers headers, ByteBuf data, boolean end, int next) {
      this.kind = kind;
      this.headers = headers;
      this.data = data;
      this.end = end;
      this.next = next;
    }
  }

  private final ConnectionInfo conn;
  private final HcmConfig config;
  private final io.legate.router.RouteTable routeTable;
  private final DownstreamStream downstream;
  private final StreamInfo info;
  private final HttpFilter[] filters;
  /** Filters the route disables (route-based filter chain), or null when all run. */
  private boolean[] skip;
  private final ArrayDeque<Item> decodeQueue = new ArrayDeque<>(2);
  private final ArrayDeque<Item> encodeQueue = new ArrayDeque<>(2);
  private boolean decodePaused;
  /** The filter whose headers stop lets data through to it (STOP_ITERATION_WATCH_DATA), or -1. */
  private int watchIndex = -1;
  private boolean encodePaused;
  /** The filter whose decode callback is running, and its item (for injection); -1 and null outside. */
  private int decodingIndex = -1;
  private Item decodingItem;
  /** Items injected and queued during the running decode callback. */
  private int injectedDecodes;
  private int encodingIndex = -1;
  private Item encodingItem;
  private int injectedEncodes;
  private boolean requestComplete;
  private boolean responseStarted;
  private boolean responseComplete;
  private boolean destroyed;
  private boolean grpc;
  /** The upgrade the request asks for (lowercase; "connect" for CONNECT), or null. */
  private String upgradeType;
  /** Whether the upgrade succeeded (101, or 2xx to CONNECT): the stream is a tunnel now. */
  private boolean upgraded;
  private Http2Headers requestHeaders;
  private Route route;
  private boolean routeResolved;
  private int readDisableCount;
  private long lastActivityNanos;
  private LoopTimers.Timer idleTimer;
  private LoopTimers.Timer requestTimer;
  private LoopTimers.Timer durationTimer;
  private io.legate.tracing.ActiveSpan activeSpan = io.legate.tracing.ActiveSpan.NOOP;
  /** Body bytes a filter added from its trailers callback, not yet passed on. */
  private ByteBuf addedDecodeData;
  private ByteBuf addedEncodeData;

  public ActiveStream(ConnectionInfo conn, DownstreamStream downstream) {
    this.conn = conn;
    this.config = conn.config();
    // Envoy's snapped route config: the stream keeps the table current when it started.
    this.routeTable = config.routeTable();
    this.downstream = downstream;
    this.info =
        new StreamInfo(
            System.currentTimeMillis(),
            System.nanoTime(),
            conn.remoteAddress(),
            conn.localAddress(),
            conn.protocol());
    info.setDownstreamConnection(conn.channel());
    var factories = config.filterFactories;
    this.filters = new HttpFilter[factories.size()];
    for (int i = 0; i < filters.length; i++) {
      filters[i] = factories.get(i).create();
    }
    for (HttpFilter f : filters) {
      f.setDecoderCallbacks(this);
      f.setEncoderCallbacks(this);
    }
    HcmStats s = config.stats;
    s.downstreamRqTotal.inc();
    s.downstreamRqActive.inc();
    if (conn.protocol().equals("HTTP/2")) {
      s.downstreamRqHttp2Total.inc();
    } else {
      s.downstreamRqHttp1Total.inc();
    }
    lastActivityNanos = info.startNanos();
    if (config.streamIdleTimeoutMs > 0) {
      idleTimer = schedule(this::onIdleTimerFired, config.streamIdleTimeoutMs);
    }
    if (config.requestTimeoutMs > 0) {
      requestTimer = schedule(this::onRequestTimeout, config.requestTimeoutMs);
    }
    if (config.maxStreamDurationMs > 0) {
      durationTimer = schedule(this::onMaxDuration, config.maxStreamDurationMs);
    }
  }

  private LoopTimers.Timer schedule(Runnable r, long ms) {
    return LoopTimers.schedule(conn.channel().eventLoop(), ms, r);
  }

  // ---------------------------------------------------------------- from the codec

  /** Request headers arrived (pseudo-headers included). */
  public void decodeHeaders(Http2Headers headers, boolean endStream) {
    touch();
    this.requestHeaders = headers;
    this.grpc = LocalReplies.isGrpc(headers);
    info.setRequestHeaders(headers);
    if (endStream) {
      onRequestComplete();
    }
    if (!sanitizeRequest(headers)) {
      return;
    }
    if (config.overload.stopAcceptingRequests()) {
      config.stats.downstreamRqOverloadClose.inc();
      info.addResponseFlag(ResponseFlag.OVERLOAD_MANAGER);
      sendLocalReply(503, "envoy overloaded", null, "overload");
      return;
    }
    upgradeType = upgradeType(headers);
    if (upgradeType != null && !upgradeAllowed(upgradeType)) {
      config.stats.downstreamRqWsOnNonWsRoute.inc();
      sendLocalReply(403, "", null, "upgrade_failed");
      return;
    }
    if (config.tracer != null) {
      activeSpan = config.tracer.startSpan(headers, info);
      info.setTraceId(activeSpan.traceId());
    }
    if (config.routeBasedFilterChain) {
      skip = filterSkips(route());
    }
    enqueueDecode(new Item(Kind.HEADERS, headers, null, endStream, 0));
  }

  /** Request body bytes arrived; the stream takes ownership. */
  public void decodeData(ByteBuf data, boolean endStream) {
    touch();
    info.addBytesReceived(data.readableBytes());
    if (endStream) {
      onRequestComplete();
    }
    if (destroyed || responseComplete) {
      data.release();
      return;
    }
    enqueueDecode(new Item(Kind.DATA, null, data, endStream, 0));
  }

  /** Request trailers arrived (ends the request). */
  public void decodeTrailers(Http2Headers trailers) {
    touch();
    onRequestComplete();
    if (destroyed || responseComplete) {
      return;
    }
    enqueueDecode(new Item(Kind.TRAILERS, trailers, null, true, 0));
  }

  /** The downstream peer reset the stream or closed the connection. */
  public void onDownstreamReset() {
    if (destroyed) {
      return;
    }
    if (!responseComplete) {
      info.addResponseFlag(ResponseFlag.DOWNSTREAM_CONNECTION_TERMINATION);
      config.stats.downstreamRqRxReset.inc();
    }
    destroy();
  }

  /** The downstream connection's writability changed (flow control). */
  public void onDownstreamWritabilityChanged(boolean writable) {
    if (destroyed) {
      return;
    }
    for (HttpFilter f : filters) {
      if (writable) {
        f.onBelowWriteBufferLowWatermark();
      } else {
        f.onAboveWriteBufferHighWatermark();
      }
    }
  }

  private void onRequestComplete() {
    requestComplete = true;
    info.onLastDownstreamRxByte(System.nanoTime());
    if (requestTimer != null) {
      requestTimer.cancel();
      requestTimer = null;
    }
  }

  // ---------------------------------------------------------------- request sanitising

  /** Applies the connection manager's request header rules; returns false after a local reply. */
  private boolean sanitizeRequest(Http2Headers h) {
    CharSequence path = h.path();
    CharSequence method = h.method();
    if (method == null) {
      sendLocalReply(400, "", null, "missing_required_header");
      return false;
    }
    boolean connect = AsciiString.contentEquals(method, "CONNECT");
    if (!connect) {
      if (path == null || path.length() == 0) {
        sendLocalReply(400, "", null, "missing_path_rejected");
        return false;
      }
      if (path.charAt(0) != '/') {
        if (!(path.length() == 1 && path.charAt(0) == '*' && AsciiString.contentEquals(method, "OPTIONS"))) {
          config.stats.downstreamRqNonRelativePath.inc();
          sendLocalReply(404, "", null, "absolute_path_rejected");
          return false;
        }
      } else if (!normalizePath(h, path)) {
        return false;
      }
    }
    if (config.stripAnyHostPort || config.stripMatchingHostPort) {
      CharSequence authority = h.authority();
      if (authority != null) {
        String a = authority.toString();
        int colon = a.lastIndexOf(':');
        if (colon > 0 && a.indexOf(']', colon) < 0) {
          boolean strip = config.stripAnyHostPort;
          if (!strip) {
            strip = a.substring(colon + 1).equals(Integer.toString(conn.localAddress().getPort()));
          }
          if (strip) {
            h.authority(a.substring(0, colon));
          }
        }
      }
    }
    InetAddress remote = conn.remoteAddress().getAddress();
    boolean internal = false;
    if (config.useRemoteAddress) {
      String addr = remote.getHostAddress();
      CharSequence xff = h.get(HttpHeaderNames.X_FORWARDED_FOR);
      // With N trusted hops, the client is the Nth address from the right of the incoming XFF.
      InetAddress client = remote;
      if (config.xffNumTrustedHops > 0 && xff != null && xff.length() > 0) {
        String[] hops = xff.toString().split(",");
        int i = hops.length - config.xffNumTrustedHops;
        client = i >= 0 ? parseAddress(hops[i].trim()) : null;
      }
      if (!config.skipXffAppend) {
        h.set(HttpHeaderNames.X_FORWARDED_FOR, xff == null || xff.length() == 0 ? addr : xff + "," + addr);
      }
      h.set(HttpHeaderNames.X_FORWARDED_PROTO, conn.tls() ? HTTPS : HTTP);
      if (client != null && config.xffNumTrustedHops > 0) {
        info.setDownstreamClientAddress(new java.net.InetSocketAddress(client, 0));
      }
      internal = client != null && isInternal(client);
      if (internal) {
        h.set(HttpHeaderNames.X_ENVOY_INTERNAL, TRUE);
      } else {
        h.remove(HttpHeaderNames.X_ENVOY_INTERNAL);
        h.set(HttpHeaderNames.X_ENVOY_EXTERNAL_ADDRESS, client != null ? client.getHostAddress() : addr);
        cleanInternalHeaders(h);
        for (String name : routeTable.internalOnlyHeaders()) {
          h.remove(name);
        }
      }
    } else {
      // As Envoy without use_remote_address: the client is the last XFF address after skipping
      // xff_num_trusted_hops from the right, else the peer.
      CharSequence xff = h.get(HttpHeaderNames.X_FORWARDED_FOR);
      if (xff != null && xff.length() > 0) {
        String[] hops = xff.toString().split(",");
        int i = hops.length - 1 - config.xffNumTrustedHops;
        InetAddress client = i >= 0 ? parseAddress(hops[i].trim()) : null;
        if (client != null) {
          info.setDownstreamClientAddress(new java.net.InetSocketAddress(client, 0));
        }
      }
      if (!h.contains(HttpHeaderNames.X_FORWARDED_PROTO)) {
        h.set(HttpHeaderNames.X_FORWARDED_PROTO, conn.tls() ? HTTPS : HTTP);
      }
      internal = true;
    }
    if (config.generateRequestId) {
      CharSequence id = h.get(HttpHeaderNames.X_REQUEST_ID);
      boolean edge = config.useRemoteAddress && !internal;
      if (id == null || id.length() == 0 || (edge && !config.preserveExternalRequestId)) {
        h.set(HttpHeaderNames.X_REQUEST_ID, randomUuid());
      }
    }
    return true;
  }

  /**
   * Returns the request's upgrade type, lowercase: "connect" for CONNECT, else the {@code upgrade}
   * header's value (the HTTP/1 codec keeps it only on a request that asks to upgrade), else null.
   */
  private static String upgradeType(Http2Headers h) {
    CharSequence method = h.method();
    if (method != null && AsciiString.contentEquals(method, "CONNECT")) {
      return "connect";
    }
    CharSequence up = h.get(HttpHeaderNames.UPGRADE);
    return up == null ? null : up.toString().trim().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Returns whether an upgrade is allowed, as Envoy decides: the route's {@code upgrade_configs}
   * entry for the type wins (enabled or not); without one, the connection manager's decides.
   */
  private boolean upgradeAllowed(String type) {
    Route r = route();
    if (r != null && r.action() instanceof io.legate.router.ForwardAction fa) {
      Boolean onRoute = fa.upgrades().enabled().get(type);
      if (onRoute != null) {
        return onRoute;
      }
    }
    return Boolean.TRUE.equals(config.upgrades.get(type));
  }

  /** Returns whether the request asked to upgrade or CONNECT and that was allowed. */
  public boolean isUpgrade() {
    return upgradeType != null;
  }

  private boolean normalizePath(Http2Headers h, CharSequence rawPath) {
    var action = config.escapedSlashesAction;
    boolean needs =
        config.normalizePath
            || config.mergeSlashes
            || (action != null
                && action
                    != io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3
                        .HttpConnectionManager.PathWithEscapedSlashesAction.KEEP_UNCHANGED
                && action
                    != io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3
                        .HttpConnectionManager.PathWithEscapedSlashesAction.IMPLEMENTATION_SPECIFIC_DEFAULT);
    if (!needs) {
      return true;
    }
    String full = rawPath.toString();
    int q = full.indexOf('?');
    String path = q < 0 ? full : full.substring(0, q);
    String query = q < 0 ? "" : full.substring(q);
    String p = path;
    switch (action) {
      case REJECT_REQUEST -> {
        if (PathNormalizer.hasEscapedSlashes(p)) {
          sendLocalReply(400, "", null, "path_normalization_failed");
          return false;
        }
      }
      case UNESCAPE_AND_FORWARD -> p = PathNormalizer.unescapeSlashes(p);
      case UNESCAPE_AND_REDIRECT -> {
        if (PathNormalizer.hasEscapedSlashes(p)) {
          String target = PathNormalizer.unescapeSlashes(p);
          if (config.normalizePath) {
            target = PathNormalizer.removeDotSegments(target);
          }
          if (config.mergeSlashes) {
            target = PathNormalizer.mergeSlashes(target);
          }
          Http2Headers extra = new io.netty.handler.codec.http2.DefaultHttp2Headers(false);
          extra.set(HttpHeaderNames.LOCATION, target + query);
          sendLocalReply(307, "", extra, "path_normalization_redirect");
          return false;
        }
      }
      default -> {}
    }
    if (config.normalizePath) {
      p = PathNormalizer.removeDotSegments(p);
    }
    if (config.mergeSlashes) {
      p = PathNormalizer.mergeSlashes(p);
    }
    if (!p.equals(path)) {
      h.path(p + query);
    }
    return true;
  }

  private static void cleanInternalHeaders(Http2Headers h) {
    h.remove(HttpHeaderNames.X_ENVOY_DECORATOR_OPERATION);
    h.remove(HttpHeaderNames.X_ENVOY_DOWNSTREAM_SERVICE_CLUSTER);
    h.remove(HttpHeaderNames.X_ENVOY_DOWNSTREAM_SERVICE_NODE);
    h.remove(HttpHeaderNames.X_ENVOY_EXPECTED_RQ_TIMEOUT_MS);
    h.remove(HttpHeaderNames.X_ENVOY_FORCE_TRACE);
    h.remove(HttpHeaderNames.X_ENVOY_IP_TAGS);
    h.remove(HttpHeaderNames.X_ENVOY_MAX_RETRIES);
    h.remove(HttpHeaderNames.X_ENVOY_RETRY_ON);
    h.remove(HttpHeaderNames.X_ENVOY_RETRY_GRPC_ON);
    h.remove(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS);
    h.remove(HttpHeaderNames.X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS);
    h.remove(HttpHeaderNames.X_ENVOY_HEDGE_ON_PER_TRY_TIMEOUT);
  }

  private static InetAddress parseAddress(String s) {
    byte[] b = io.netty.util.NetUtil.createByteArrayFromIpAddressString(s); // literals only, no DNS
    if (b == null) {
      return null;
    }
    try {
      return InetAddress.getByAddress(b);
    } catch (java.net.UnknownHostException e) {
      return null;
    }
  }

  /** Envoy's default internal addresses: loopback and RFC 1918 / unique-local. */
  static boolean isInternal(InetAddress a) {
    return a.isLoopbackAddress() || a.isSiteLocalAddress() || isUniqueLocalV6(a);
  }

  private static boolean isUniqueLocalV6(InetAddress a) {
    byte[] b = a.getAddress();
    return b.length == 16 && (b[0] & 0xfe) == 0xfc;
  }

  private static final byte[] HEX = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

  /** Returns a random (version 4) UUID in its 36-character text form, written straight to bytes. */
  static AsciiString randomUuid() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long msb = (r.nextLong() & ~0xf000L) | 0x4000L;
    long lsb = (r.nextLong() & 0x3fffffffffffffffL) | 0x8000000000000000L;
    byte[] b = new byte[36];
    hex(b, 0, msb >>> 32, 8);
    b[8] = '-';
    hex(b, 9, msb >>> 16, 4);
    b[13] = '-';
    hex(b, 14, msb, 4);
    b[18] = '-';
    hex(b, 19, lsb >>> 48, 4);
    b[23] = '-';
    hex(b, 24, lsb, 12);
    return new AsciiString(b, false);
  }

  private static void hex(byte[] b, int off, long v, int digits) {
    for (int i = off + digits - 1; i >= off; i--) {
      b[i] = HEX[(int) (v & 0xf)];
      v >>>= 4;
    }
  }

  /**
   * Returns which filters this route leaves out: the most specific route-level FilterConfig's
   * {@code disabled}, else the HCM's {@code disabled}. The terminal filter always runs.
   */
  private boolean[] filterSkips(Route r) {
    boolean[] s = new boolean[filters.length];
    for (int i = 0; i < filters.length - 1; i++) {
      Boolean d = r == null ? null : r.filterDisabled(config.filterNames.get(i));
      s[i] = d != null ? d : config.filterDisabledByDefault.get(i);
    }
    return s;
  }

  // ---------------------------------------------------------------- decoder chain

  private void enqueueDecode(Item it) {
    if (decodeQueue.isEmpty() && !decodePaused) {
      if (!runDecode(it)) {
        decodeQueue.addFirst(it);
      }
    } else {
      decodeQueue.addLast(it);
    }
    deliverWatched();
  }

  /**
   * Passes held request data and trailers through the filters up to the one that stopped the
   * headers with STOP_ITERATION_WATCH_DATA; they then wait for it to continue.
   */
  private void deliverWatched() {
    while (watchIndex >= 0 && !destroyed) {
      Item target = null;
      for (Item q : decodeQueue) {
        if (q.kind != Kind.HEADERS && q.next <= watchIndex) {
          target = q;
          break;
        }
      }
      if (target == null) {
        return;
      }
      int to = watchIndex;
      int from = target.next;
      target.next = to + 1;
      for (int i = from; i <= to; i++) {
        if (destroyed || responseComplete || watchIndex != to) {
          return;
        }
        if (skip != null && skip[i]) {
          continue;
        }
        if (callDecode(i, target) == HttpFilter.Status.STOP_ITERATION_NO_BUFFER) {
          // The filter took it (and may have injected its replacement ahead of it).
          Item taken = target;
          if (decodeQueue.removeIf(q -> q == taken)) {
            release(taken);
          }
          break;
        }
        if (addedDecodeData != null) {
          // Bytes added ahead of the trailers: they pass the remaining watched filters first.
          Item added = new Item(Kind.DATA, null, takeAddedDecodeData(), false, i + 1);
          target.next = i + 1;
          decodeQueue.removeLastOccurrence(target);
          decodeQueue.addLast(added);
          decodeQueue.addLast(target);
          break;
        }
      }
    }
  }

  /** Runs an item through the decoder filters; returns false if a filter stopped on it. */
  private boolean runDecode(Item it) {
    for (int i = it.next; i < filters.length; i++) {
      if (destroyed || responseComplete) {
        release(it);
        return true;
      }
      if (skip != null && skip[i]) {
        continue;
      }
      HttpFilter.Status s = callDecode(i, it);
      if (addedDecodeData != null) {
        // Bytes the filter added from decodeTrailers go to the next filters before the trailers.
        Item added = new Item(Kind.DATA, null, takeAddedDecodeData(), false, i + 1);
        it.next = i + 1;
        if (s == HttpFilter.Status.CONTINUE) {
          if (runDecode(added)) {
            continue;
          }
        } else {
          decodePaused = true;
        }
        decodeQueue.addFirst(it);
        decodeQueue.addFirst(added);
        return true;
      }
      if (s == HttpFilter.Status.STOP_ITERATION_NO_BUFFER && it.kind != Kind.HEADERS) {
        release(it);
        return true;
      }
      if (s != HttpFilter.Status.CONTINUE) {
        it.next = i + 1;
        decodePaused = true;
        if (s == HttpFilter.Status.STOP_ITERATION_WATCH_DATA && it.kind == Kind.HEADERS) {
          watchIndex = i;
        }
        return false;
      }
    }
    release(it);
    return true;
  }

  /** Runs one decode callback, remembering which filter runs it for {@link #injectDecodedData}. */
  private HttpFilter.Status callDecode(int i, Item it) {
    int savedIndex = decodingIndex;
    Item savedItem = decodingItem;
    int savedInjected = injectedDecodes;
    decodingIndex = i;
    decodingItem = it;
    injectedDecodes = 0;
    try {
      return switch (it.kind) {
        case HEADERS -> filters[i].decodeHeaders(it.headers, it.end);
        case DATA -> filters[i].decodeData(it.data, it.end);
        case TRAILERS -> filters[i].decodeTrailers(it.headers);
      };
    } finally {
      decodingIndex = savedIndex;
      decodingItem = savedItem;
      injectedDecodes = savedInjected;
    }
  }

  /** Runs one encode callback, remembering which filter runs it for the inject methods. */
  private HttpFilter.Status callEncode(int i, Item it) {
    int savedIndex = encodingIndex;
    Item savedItem = encodingItem;
    int savedInjected = injectedEncodes;
    encodingIndex = i;
    encodingItem = it;
    injectedEncodes = 0;
    try {
      return switch (it.kind) {
        case HEADERS -> filters[i].encodeHeaders(it.headers, it.end);
        case DATA -> filters[i].encodeData(it.data, it.end);
        case TRAILERS -> filters[i].encodeTrailers(it.headers);
      };
    } finally {
      encodingIndex = savedIndex;
      encodingItem = savedItem;
      injectedEncodes = savedInjected;
    }
  }

  @Override
  public void injectDecodedData(ByteBuf data, boolean endStream) {
    if (decodingIndex < 0) {
      data.release();
      throw new IllegalStateException("injectDecodedData called outside a decode callback");
    }
    if (destroyed || responseComplete) {
      data.release();
      return;
    }
    Item it = new Item(Kind.DATA, null, data, endStream, decodingIndex + 1);
    if (decodePaused || !runDecode(it)) {
      insertInjected(decodeQueue, it, decodingItem, injectedDecodes++);
    }
  }

  @Override
  public void injectEncodedHeaders(Http2Headers headers, boolean endStream) {
    injectEncode(new Item(Kind.HEADERS, headers, null, endStream, 0));
  }

  @Override
  public void injectEncodedData(ByteBuf data, boolean endStream) {
    injectEncode(new Item(Kind.DATA, null, data, endStream, 0));
  }

  private void injectEncode(Item it) {
    if (encodingIndex < 0) {
      release(it);
      throw new IllegalStateException("inject called outside an encode callback");
    }
    if (destroyed) {
      release(it);
      return;
    }
    it.next = encodingIndex - 1;
    if (encodePaused || !runEncode(it)) {
      insertInjected(encodeQueue, it, encodingItem, injectedEncodes++);
    }
  }

  /**
   * Queues an injected item that could not run through: just before the item whose callback
   * injected it when that one is still queued, else after the {@code earlier} items injected by
   * the same callback, at the front.
   */
  private static void insertInjected(ArrayDeque<Item> queue, Item it, Item current, int earlier) {
    boolean queued = false;
    for (Item q : queue) {
      if (q == current) {
        queued = true;
        break;
      }
    }
    ArrayDeque<Item> ahead = new ArrayDeque<>();
    if (queued) {
      while (queue.peekFirst() != current) {
        ahead.addLast(queue.pollFirst());
      }
    } else {
      for (int j = 0; j < earlier && !queue.isEmpty(); j++) {
        ahead.addLast(queue.pollFirst());
      }
    }
    queue.addFirst(it);
    while (!ahead.isEmpty()) {
      queue.addFirst(ahead.pollLast());
    }
  }

  private ByteBuf takeAddedDecodeData() {
    ByteBuf b = addedDecodeData;
    addedDecodeData = null;
    return b;
  }

  private ByteBuf takeAddedEncodeData() {
    ByteBuf b = addedEncodeData;
    addedEncodeData = null;
    return b;
  }

  @Override
  public void replaceDecodingData(ByteBuf data) {
    replaceData(decodingItem, data, "replaceDecodingData");
  }

  @Override
  public void replaceEncodingData(ByteBuf data) {
    replaceData(encodingItem, data, "replaceEncodingData");
  }

  private static void replaceData(Item it, ByteBuf data, String what) {
    if (it == null || it.kind != Kind.DATA) {
      data.release();
      throw new IllegalStateException(what + " called outside of a data callback");
    }
    ByteBuf old = it.data;
    it.data = data;
    old.release();
  }

  @Override
  public void addDecodedData(ByteBuf data) {
    if (decodingItem == null || decodingItem.kind != Kind.TRAILERS) {
      data.release();
      throw new IllegalStateException("addDecodedData called outside of decodeTrailers");
    }
    addedDecodeData = addedDecodeData == null ? data : io.netty.buffer.Unpooled.wrappedBuffer(addedDecodeData, data);
  }

  @Override
  public void addEncodedData(ByteBuf data) {
    if (encodingItem == null || encodingItem.kind != Kind.TRAILERS) {
      data.release();
      throw new IllegalStateException("addEncodedData called outside of encodeTrailers");
    }
    addedEncodeData = addedEncodeData == null ? data : io.netty.buffer.Unpooled.wrappedBuffer(addedEncodeData, data);
  }

  private static void release(Item it) {
    if (it.data != null) {
      ReferenceCountUtil.release(it.data);
    }
  }

  @Override
  public void continueDecoding() {
    if (!decodePaused || destroyed) {
      return;
    }
    decodePaused = false;
    watchIndex = -1;
    while (!decodeQueue.isEmpty() && !decodePaused && !destroyed) {
      // Taken off the queue while it runs: a stream destroyed meanwhile must not release it twice.
      Item it = decodeQueue.pollFirst();
      if (!runDecode(it)) {
        decodeQueue.addFirst(it);
      }
    }
    deliverWatched();
  }

  // ---------------------------------------------------------------- encoder chain

  @Override
  public void encodeHeaders(Http2Headers headers, boolean endStream) {
    if (destroyed || responseComplete) {
      return;
    }
    responseStarted = true;
    enqueueEncode(new Item(Kind.HEADERS, headers, null, endStream, filters.length - 1));
  }

  @Override
  public void encodeData(ByteBuf data, boolean endStream) {
    if (destroyed || responseComplete) {
      data.release();
      return;
    }
    enqueueEncode(new Item(Kind.DATA, null, data, endStream, filters.length - 1));
  }

  @Override
  public void encodeTrailers(Http2Headers trailers) {
    if (destroyed || responseComplete) {
      return;
    }
    enqueueEncode(new Item(Kind.TRAILERS, trailers, null, true, filters.length - 1));
  }

  private void enqueueEncode(Item it) {
    if (encodeQueue.isEmpty() && !encodePaused) {
      if (!runEncode(it)) {
        encodeQueue.addFirst(it);
      }
    } else {
      encodeQueue.addLast(it);
    }
  }

  private boolean runEncode(Item it) {
    for (int i = it.next; i >= 0; i--) {
      if (destroyed) {
        release(it);
        return true;
      }
      if (skip != null && skip[i]) {
        continue;
      }
      HttpFilter.Status s = callEncode(i, it);
      if (addedEncodeData != null) {
        // Bytes the filter added from encodeTrailers go to the next filters before the trailers.
        Item added = new Item(Kind.DATA, null, takeAddedEncodeData(), false, i - 1);
        it.next = i - 1;
        if (s != HttpFilter.Status.STOP_ITERATION) {
          if (runEncode(added)) {
            continue;
          }
        } else {
          encodePaused = true;
        }
        encodeQueue.addFirst(it);
        encodeQueue.addFirst(added);
        return true;
      }
      if (s == HttpFilter.Status.STOP_ITERATION_NO_BUFFER) {
        release(it);
        return true;
      }
      if (s == HttpFilter.Status.STOP_ITERATION) {
        it.next = i - 1;
        encodePaused = true;
        return false;
      }
    }
    if (destroyed) {
      release(it);
      return true;
    }
    switch (it.kind) {
      case HEADERS -> writeResponseHeaders(it.headers, it.end);
      case DATA -> {
        touch();
        info.addBytesSent(it.data.readableBytes());
        downstream.writeData(it.data, it.end);
        if (it.end) {
          onResponseComplete();
        }
      }
      case TRAILERS -> {
        info.setResponseTrailers(it.headers);
        downstream.writeTrailers(it.headers);
        onResponseComplete();
      }
    }
    return true;
  }

  @Override
  public void continueEncoding() {
    if (!encodePaused || destroyed) {
      return;
    }
    encodePaused = false;
    while (!encodeQueue.isEmpty() && !encodePaused && !destroyed) {
      // Taken off the queue while it runs: a stream destroyed meanwhile must not release it twice.
      Item it = encodeQueue.pollFirst();
      if (!runEncode(it)) {
        encodeQueue.addFirst(it);
      }
    }
  }

  private void writeResponseHeaders(Http2Headers h, boolean end) {
    touch();
    CharSequence status = h.status();
    int code = status == null ? 0 : AsciiString.of(status).parseInt();
    info.setResponseCode(code);
    info.setResponseHeaders(h);
    switch (config.serverHeaderTransformation) {
      case APPEND_IF_ABSENT -> {
        if (!h.contains(HttpHeaderNames.SERVER)) {
          h.set(HttpHeaderNames.SERVER, config.serverName);
        }
      }
      case PASS_THROUGH -> {}
      default -> h.set(HttpHeaderNames.SERVER, config.serverName);
    }
    if (!h.contains(HttpHeaderNames.DATE)) {
      h.set(HttpHeaderNames.DATE, DateHeader.now());
    }
    if (upgradeType != null && !upgraded && isTunnelResponse(upgradeType, code)) {
      upgraded = true;
      config.stats.downstreamCxUpgradesTotal.inc();
      config.stats.downstreamCxUpgradesActive.inc();
      // The request of a tunnel never completes while it is open: request_timeout stops here.
      cancel(requestTimer);
      requestTimer = null;
    }
    if (!config.via.isEmpty()) {
      CharSequence via = h.get(HttpHeaderNames.VIA);
      h.set(HttpHeaderNames.VIA, via == null ? config.via : via + ", " + config.via);
    }
    downstream.writeHeaders(h, end);
    if (end) {
      onResponseComplete();
    }
  }

  // ---------------------------------------------------------------- local replies

  @Override
  public void sendLocalReply(int status, String body, Http2Headers extraHeaders, String details) {
    sendLocalReply(status, body, extraHeaders, -1, details);
  }

  @Override
  public void sendLocalReply(
      int status, String body, Http2Headers extraHeaders, int grpcStatus, String details) {
    if (destroyed) {
      return;
    }
    info.setResponseCodeDetails(details);
    if (responseStarted) {
      // Too late for a reply: the only thing left is to reset.
      resetStream();
      return;
    }
    Http2Headers h = LocalReplies.headers(status, body, grpc, grpcStatus);
    if (extraHeaders != null) {
      h.add(extraHeaders);
    }
    boolean hasBody = !grpc && body != null && !body.isEmpty() && !isHead();
    encodeHeaders(h, !hasBody);
    if (hasBody) {
      encodeData(LocalReplies.body(conn.channel().alloc(), body), true);
    }
  }

  private boolean isHead() {
    return requestHeaders != null
        && requestHeaders.method() != null
        && AsciiString.contentEquals(requestHeaders.method(), "HEAD");
  }

  @Override
  public void resetStream() {
    if (destroyed) {
      return;
    }
    config.stats.downstreamRqTxReset.inc();
    info.addResponseFlag(ResponseFlag.LOCAL_RESET);
    downstream.reset();
    destroy();
  }

  // ---------------------------------------------------------------- completion

  private void onResponseComplete() {
    if (responseComplete) {
      return;
    }
    responseComplete = true;
    info.onLastDownstreamTxByte(System.nanoTime());
    destroy();
  }

  private void destroy() {
    if (destroyed) {
      return;
    }
    destroyed = true;
    cancel(idleTimer);
    cancel(requestTimer);
    cancel(durationTimer);
    for (HttpFilter f : filters) {
      try {
        f.onDestroy();
      } catch (RuntimeException e) {
        // A filter's failure must not leak the stream.
      }
    }
    for (Item it : decodeQueue) {
      release(it);
    }
    decodeQueue.clear();
    for (Item it : encodeQueue) {
      release(it);
    }
    encodeQueue.clear();
    ReferenceCountUtil.release(takeAddedDecodeData());
    ReferenceCountUtil.release(takeAddedEncodeData());
    HcmStats s = config.stats;
    s.downstreamRqActive.dec();
    if (upgraded) {
      s.downstreamCxUpgradesActive.dec();
    }
    if (responseComplete) {
      s.downstreamRqCompleted.inc();
      s.recordResponseCode(info.responseCode());
      s.downstreamRqTime.record((System.nanoTime() - info.startNanos()) / 1_000_000);
    }
    activeSpan.finish(info);
    if (!config.accessLogs.isEmpty()) {
      for (io.legate.accesslog.AccessLog log : config.accessLogs) {
        log.log(info);
      }
    }
    downstream.streamComplete(requestComplete);
  }

  /** Returns whether a response turns an upgrade request into a tunnel: 101, or 2xx to CONNECT. */
  public static boolean isTunnelResponse(String upgradeType, int code) {
    return upgradeType.equals("connect") ? code >= 200 && code < 300 : code == 101;
  }

  private static void cancel(LoopTimers.Timer t) {
    if (t != null) {
      t.cancel();
    }
  }

  // ---------------------------------------------------------------- timers

  private void touch() {
    if (idleTimer != null) {
      lastActivityNanos = System.nanoTime();
    }
  }

  private void onIdleTimerFired() {
    if (destroyed) {
      return;
    }
    long idleMs = (System.nanoTime() - lastActivityNanos) / 1_000_000;
    long remaining = config.streamIdleTimeoutMs - idleMs;
    if (remaining > 0) {
      idleTimer = LoopTimers.scheduleOnce(conn.channel().eventLoop(), remaining, this::onIdleTimerFired);
      return;
    }
    config.stats.downstreamRqIdleTimeout.inc();
    info.addResponseFlag(ResponseFlag.STREAM_IDLE_TIMEOUT);
    sendLocalReply(408, "stream timeout", null, "stream_idle_timeout");
  }

  private void onRequestTimeout() {
    if (destroyed || requestComplete) {
      return;
    }
    config.stats.downstreamRqTimeout.inc();
    sendLocalReply(408, "request timeout", null, "request_overall_timeout");
  }

  private void onMaxDuration() {
    if (destroyed) {
      return;
    }
    config.stats.downstreamRqMaxDurationReached.inc();
    info.addResponseFlag(ResponseFlag.DURATION_TIMEOUT);
    if (!responseStarted) {
      sendLocalReply(408, "downstream duration timeout", null, "max_duration_timeout");
    } else {
      resetStream();
    }
  }

  // ---------------------------------------------------------------- callbacks

  @Override
  public Route route() {
    if (!routeResolved) {
      routeResolved = true;
      route =
          requestHeaders == null
              ? null
              : routeTable.route(requestHeaders, ThreadLocalRandom.current().nextLong());
      if (route != null) {
        info.setRouteName(route.name());
      }
    }
    return route;
  }

  @Override
  public void clearRouteCache() {
    routeResolved = false;
    route = null;
  }

  @Override
  public StreamInfo streamInfo() {
    return info;
  }

  @Override
  public EventLoop eventLoop() {
    return conn.channel().eventLoop();
  }

  @Override
  public void readDisable(boolean disable) {
    if (disable) {
      if (readDisableCount++ == 0) {
        downstream.readDisable(true);
      }
    } else if (readDisableCount > 0 && --readDisableCount == 0) {
      downstream.readDisable(false);
    }
  }

  @Override
  public io.netty.util.AttributeMap connectionAttributes() {
    return conn.channel();
  }

  @Override
  public boolean downstreamTls() {
    return conn.tls();
  }

  @Override
  public int bufferLimit() {
    return 1 << 20;
  }

  @Override
  public io.legate.tracing.ActiveSpan activeSpan() {
    return activeSpan;
  }

  /** Returns whether the response ended (for the codec's keep-alive decision). */
  public boolean responseComplete() {
    return responseComplete;
  }

  public HcmConfig config() {
    return config;
  }
}
