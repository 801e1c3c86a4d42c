package io.legate.http.codec;

import static io.netty.handler.codec.http2.Http2Error.ENHANCE_YOUR_CALM;
import static io.netty.handler.codec.http2.Http2Error.FLOW_CONTROL_ERROR;
import static io.netty.handler.codec.http2.Http2Error.INTERNAL_ERROR;
import static io.netty.handler.codec.http2.Http2Error.NO_ERROR;
import static io.netty.handler.codec.http2.Http2Error.PROTOCOL_ERROR;
import static io.netty.handler.codec.http2.Http2Error.REFUSED_STREAM;
import static io.netty.handler.codec.http2.Http2Error.STREAM_CLOSED;
import static io.netty.handler.codec.http2.Http2Exception.connectionError;
import static io.netty.handler.codec.http2.Http2Exception.streamError;

import io.legate.http.ConnectionInfo;
import io.legate.http.HcmConfig;
import io.legate.http.HttpHeaderNames;
import io.legate.server.Log;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandler;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http2.DefaultHttp2FrameReader;
import io.netty.handler.codec.http2.DefaultHttp2HeadersDecoder;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameTypes;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.ReadOnlyHttp2Headers;
import io.netty.util.AsciiString;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The downstream HTTP/2 connection: frames in through Netty's frame reader and HPACK decoder, and
 * everything else here — stream states, both directions of flow control, settings, GOAWAY and
 * graceful close. Each stream is a plain {@link Http2ServerStream}; frames reach it as direct calls.
 *
 * <p>Writes go into one buffer per connection, handed to the channel once per read or event-loop
 * pass (see {@link #flushSoon}): the HEADERS and DATA frames of many streams leave in one write,
 * with no promise, listener or pipeline pass per frame. DATA payloads above {@link #COPY_MAX}
 * bytes are not copied: the buffer so far and the payload go out as two writes.
 *
 * <p>Flow control: received bytes return to the peer's windows (WINDOW_UPDATE) once half a
 * window has been consumed; a stream whose reading is paused does not consume, so the client
 * stops at its window. Sent DATA waits in the stream's queue for window; queued streams share a
 * reopened connection window in turns of {@link #QUANTUM} bytes. A stream is writable while its
 * queue is empty, both windows are open and the socket is writable; changes are reported to it.
 *
 * <p>Protocol errors follow RFC 9113 as Netty's codec answered them: a stream error resets the
 * stream (RST_STREAM) and the connection goes on; a connection error sends GOAWAY with the error
 * and closes. Envoy's flood limits on raw frames are in {@link Http2FrameLimits}; the consecutive
 * empty DATA frames limit is here.
 */
final class Http2ServerConnection extends ByteToMessageDecoder implements ChannelOutboundHandler, Http2FrameDefaults {
  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();
  private static final int DEFAULT_WINDOW = Http2CodecUtil.DEFAULT_WINDOW_SIZE;
  private static final int MAX_WINDOW = Http2CodecUtil.MAX_INITIAL_WINDOW_SIZE;
  /** DATA payloads up to this size are copied into the connection's write buffer. */
  static final int COPY_MAX = 2048;
  /** Bytes a queued stream may send per turn when a reopened window is shared. */
  static final int QUANTUM = 16384;
  /**
   * A stream stops being writable when this many response bytes wait in its queue for window (the
   * router then stops reading its upstream), and is writable again at {@link #QUEUE_LOW}. The
   * peer's windows alone do not make a stream unwritable: a closed window with an empty queue
   * still takes what the upstream has already sent, the end of the stream included.
   */
  static final int QUEUE_HIGH = 64 * 1024;

  static final int QUEUE_LOW = QUEUE_HIGH / 2;
  /** How long a graceful close waits for the open streams (Netty's default, as before). */
  private static final long GRACEFUL_CLOSE_MS = 30_000;
  private static final Http2Headers HEADERS_TOO_LARGE = ReadOnlyHttp2Headers.serverHeaders(false, new AsciiString("431"));

  private final HcmConfig config;
  private final ConnectionInfo conn;
  private final HttpServerPipeline.PrematureResets resets;
  private final DefaultHttp2FrameReader reader;
  private final DefaultHttp2HeadersEncoder hpack;
  private final IntObjectHashMap<Http2ServerStream> streams = new IntObjectHashMap<>();
  private final ArrayDeque<Http2ServerStream> queued = new ArrayDeque<>();
  private ChannelHandlerContext ctx;
  /** Frames written and not yet handed to the channel. */
  private ByteBuf out;
  /** Something was handed to the channel since the last flush. */
  private boolean unflushed;
  private boolean reading;
  private boolean flushScheduled;
  private final Runnable scheduledFlush =
      () -> {
        flushScheduled = false;
        flushNow();
      };

  private boolean prefaceRead;
  private boolean firstFrameChecked;
  /** The highest stream id the client opened. */
  private int lastStreamId;
  private boolean goAwaySent;
  private int goAwayLastStreamId = Integer.MAX_VALUE;
  /** A connection error was answered, or the channel closed: nothing more is read or written. */
  private boolean dead;
  private ChannelPromise closePromise;
  private ScheduledFuture<?> closeTimeout;
  private int emptyDataFrames;
  private ConnectionIdleTimer idleTimer;
  /**
   * The last streams we reset: frames the client sent on them before it saw the RST_STREAM are
   * ignored (RFC 9113 5.1), not answered with another reset each.
   */
  private final int[] recentResets = new int[32];
  private int recentResetsNext;

  // flow control
  private final int localInitialWindow;
  /** The stream receive window in force: the default until the client acknowledges our SETTINGS. */
  private int recvInitialWindow = DEFAULT_WINDOW;
  private boolean localSettingsAcked;
  private final int connRecvTarget;
  private long connRecvWindow = DEFAULT_WINDOW;
  private int connRecvUnacked;
  private long connSendWindow = DEFAULT_WINDOW;
  private int remoteInitialWindow = DEFAULT_WINDOW;
  private int remoteMaxFrameSize = Http2CodecUtil.DEFAULT_MAX_FRAME_SIZE;

  private Http2ServerConnection(HcmConfig config, ConnectionInfo conn) {
    this.config = config;
    this.conn = conn;
    this.resets =
        new HttpServerPipeline.PrematureResets(
            conn.channel(), config.stats, config.maxRequestsPerConnection, config.overload, this::goAwayNoError);
    this.reader =
        new DefaultHttp2FrameReader(new DefaultHttp2HeadersDecoder(true, config.maxRequestHeadersBytes), 16);
    this.hpack = new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE, true);
    this.localInitialWindow = config.h2InitialStreamWindowSize;
    this.connRecvTarget = Math.max(DEFAULT_WINDOW, config.h2InitialConnectionWindowSize);
  }

  /** Builds the handler for one downstream connection. */
  static Http2ServerConnection create(HcmConfig config, ConnectionInfo conn) {
    return new Http2ServerConnection(config, conn);
  }

  HttpServerPipeline.PrematureResets resets() {
    return resets;
  }

  ConnectionInfo conn() {
    return conn;
  }

  // ------------------------------------------------------------------ life cycle

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
    this.ctx = ctx;
    super.handlerAdded(ctx);
    // The server's preface: SETTINGS, and the connection window opened to its configured size.
    Http2Settings s = new Http2Settings();
    s.maxConcurrentStreams(config.h2MaxConcurrentStreams);
    s.initialWindowSize(localInitialWindow);
    s.maxHeaderListSize(config.maxRequestHeadersBytes);
    if (config.h2AllowConnect) {
      s.connectProtocolEnabled(true); // SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
    }
    writeSettings(s);
    if (connRecvTarget > DEFAULT_WINDOW) {
      writeWindowUpdate(0, connRecvTarget - DEFAULT_WINDOW);
      connRecvWindow = connRecvTarget;
    }
    flushNow();
    if (config.idleTimeoutMs > 0) {
      idleTimer =
          new ConnectionIdleTimer(
              ctx.channel(),
              config.idleTimeoutMs,
              () -> {
                config.stats.downstreamCxIdleTimeout.inc();
                ctx.close(); // GOAWAY, then the socket closes
                return true;
              });
      idleTimer.start();
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    flushNow(); // the preface, when the handler was added before the channel was active
    super.channelActive(ctx);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    dead = true;
    if (idleTimer != null) {
      idleTimer.stop();
    }
    if (closeTimeout != null) {
      closeTimeout.cancel(false);
    }
    if (!streams.isEmpty()) {
      for (Http2ServerStream s : new ArrayList<>(streams.values())) {
        closeStream(s);
      }
    }
    releaseOut();
    reader.close();
    super.channelInactive(ctx);
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) {
    releaseOut();
  }

  private void releaseOut() {
    if (out != null) {
      out.release();
      out = null;
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    reading = true;
    super.channelRead(ctx, msg);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
    reading = false;
    flushNow();
    super.channelReadComplete(ctx);
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    updateAllWritability();
    super.channelWritabilityChanged(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
    if (cause instanceof Http2Exception e) { // a flood seen by Http2FrameLimits
      failConnection(e.error(), e.getMessage(), true);
      return;
    }
    ctx.fireExceptionCaught(cause);
  }

  // ------------------------------------------------------------------ reading

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> unused) {
    if (dead) {
      in.skipBytes(in.readableBytes());
      return;
    }
    try {
      if (!prefaceRead && !readPreface(in)) {
        return;
      }
      if (!firstFrameChecked) {
        if (in.readableBytes() < 5) {
          return;
        }
        if (in.getUnsignedByte(in.readerIndex() + 3) != Http2FrameTypes.SETTINGS) {
          throw connectionError(PROTOCOL_ERROR, "First received frame was not SETTINGS");
        }
        firstFrameChecked = true;
      }
      reader.readFrame(ctx, in, this);
    } catch (Http2Exception e) {
      onError(e);
    } catch (RuntimeException e) {
      Log.error("http2", "connection failed reading a frame: " + e);
      failConnection(INTERNAL_ERROR, "internal error", true);
    }
    if (dead) {
      in.skipBytes(in.readableBytes());
    }
  }

  private boolean readPreface(ByteBuf in) throws Http2Exception {
    int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
    if (!ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n)) {
      throw connectionError(PROTOCOL_ERROR, "HTTP/2 client preface string missing or corrupt");
    }
    if (n < PREFACE.readableBytes()) {
      return false;
    }
    in.skipBytes(n);
    prefaceRead = true;
    return true;
  }

  private void onError(Http2Exception e) {
    if (e instanceof Http2Exception.CompositeStreamException c) {
      for (Http2Exception.StreamException se : c) {
        onStreamError(se);
      }
    } else if (e instanceof Http2Exception.StreamException se) {
      onStreamError(se);
    } else {
      failConnection(e.error(), e.getMessage(), true);
    }
  }

  private void onStreamError(Http2Exception.StreamException e) {
    int id = e.streamId();
    Http2ServerStream s = streams.get(id);
    if (s == null && id > lastStreamId && (id & 1) == 1) {
      lastStreamId = id; // the stream was opened, and failed at once
    }
    if (e instanceof Http2Exception.HeaderListSizeException h && h.duringDecode() && (s == null || !s.responded())) {
      // As Netty answered: a 431 response, then the reset.
      if (s == null || !s.endSent) {
        encodeHeaders(id, HEADERS_TOO_LARGE, true);
      }
    }
    writeRst(id, e.error());
    if (s != null) {
      closeStream(s);
    }
    flushSoon();
  }

  /** Answers GOAWAY with {@code error} and closes the connection once it is written. */
  private void failConnection(Http2Error error, String message, boolean inbound) {
    if (dead) {
      return;
    }
    if (inbound) {
      config.stats.downstreamCxProtocolError.inc();
    }
    if (!goAwaySent || error != NO_ERROR) {
      writeGoAway(error, message);
    }
    closeAfterWrites(ctx.newPromise());
  }

  @Override
  public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) throws Http2Exception {
    Long tableSize = settings.headerTableSize();
    if (tableSize != null) {
      hpack.configuration().maxHeaderTableSize(tableSize);
    }
    Integer frameSize = settings.maxFrameSize();
    if (frameSize != null) {
      remoteMaxFrameSize = frameSize;
    }
    Integer window = settings.initialWindowSize();
    writeSettingsAck();
    if (window != null && window != remoteInitialWindow) {
      int delta = window - remoteInitialWindow;
      remoteInitialWindow = window;
      for (Http2ServerStream s : streams.values()) {
        long w = (long) s.sendWindow + delta;
        if (w > MAX_WINDOW) {
          throw connectionError(FLOW_CONTROL_ERROR, "Window size overflow for stream: %d", s.id());
        }
        s.sendWindow = (int) w;
      }
      sendQueued(); // updates the writability of the streams it sends for
    }
    flushSoon();
  }

  @Override
  public void onSettingsAckRead(ChannelHandlerContext ctx) {
    if (!localSettingsAcked) {
      localSettingsAcked = true;
      int delta = localInitialWindow - recvInitialWindow;
      recvInitialWindow = localInitialWindow;
      if (delta != 0) {
        for (Http2ServerStream s : streams.values()) {
          s.recvWindow += delta;
        }
      }
    }
  }

  @Override
  public void onPingRead(ChannelHandlerContext ctx, long data) {
    ByteBuf o = out();
    frameHeader(o, 8, Http2FrameTypes.PING, Http2Flags.ACK, 0);
    o.writeLong(data);
    flushSoon();
  }

  @Override
  public void onHeadersRead(ChannelHandlerContext ctx, int streamId, Http2Headers headers, int padding, boolean endStream)
      throws Http2Exception {
    emptyDataFrames = 0;
    Http2ServerStream s = streams.get(streamId);
    if (s != null) {
      onTrailers(s, headers, endStream);
      return;
    }
    if ((streamId & 1) == 0) {
      throw connectionError(PROTOCOL_ERROR, "Client stream ids must be odd: %d", streamId);
    }
    if (streamId <= lastStreamId) {
      if ((goAwaySent && streamId > goAwayLastStreamId) || recentlyReset(streamId)) {
        return;
      }
      throw streamError(streamId, STREAM_CLOSED, "Received HEADERS frame for an unknown stream %d", streamId);
    }
    lastStreamId = streamId;
    if (goAwaySent && streamId > goAwayLastStreamId) {
      return; // opened after our GOAWAY: ignored (its header block was decoded)
    }
    if (streams.size() >= config.h2MaxConcurrentStreams) {
      throw streamError(streamId, REFUSED_STREAM, "Maximum active streams violated for this endpoint: %d", config.h2MaxConcurrentStreams);
    }
    long contentLength = contentLength(streamId, headers);
    if (endStream && contentLength > 0) {
      throw streamError(streamId, PROTOCOL_ERROR, "Received amount of data 0 does not match content-length header %d", contentLength);
    }
    s = new Http2ServerStream(this, streamId);
    s.sendWindow = remoteInitialWindow;
    s.recvWindow = recvInitialWindow;
    s.contentLength = contentLength;
    s.remoteEnded = endStream;
    streams.put(streamId, s);
    if (idleTimer != null) {
      idleTimer.requestStarted(); // ended in closeStream
    }
    try {
      s.onRequestHeaders(headers, endStream);
    } catch (RuntimeException e) {
      Log.error("http2", "stream " + streamId + " failed on its request headers: " + e);
      s.resetOnError();
    }
  }

  private void onTrailers(Http2ServerStream s, Http2Headers headers, boolean endStream) throws Http2Exception {
    int id = s.id();
    if (s.remoteEnded) {
      throw streamError(id, STREAM_CLOSED, "Stream %d in unexpected state: HALF_CLOSED_REMOTE", id);
    }
    if (!endStream) {
      throw streamError(id, PROTOCOL_ERROR, "Stream %d received too many headers EOS: false", id);
    }
    for (var e : headers) {
      if (Http2Headers.PseudoHeaderName.hasPseudoHeaderFormat(e.getKey())) {
        throw streamError(id, PROTOCOL_ERROR, "Found invalid Pseudo-Header in trailers: %s", e.getKey());
      }
    }
    if (s.contentLength >= 0 && s.received != s.contentLength) {
      throw streamError(id, PROTOCOL_ERROR, "Received amount of data %d does not match content-length header %d", s.received, s.contentLength);
    }
    s.remoteEnded = true;
    try {
      s.onTrailers(headers);
    } catch (RuntimeException e) {
      Log.error("http2", "stream " + id + " failed on its request trailers: " + e);
      s.resetOnError();
    }
    if (!s.closed && s.endSent) {
      closeStream(s);
    }
  }

  private static long contentLength(int streamId, Http2Headers headers) throws Http2Exception {
    if (!headers.contains(HttpHeaderNames.CONTENT_LENGTH)) {
      return -1;
    }
    List<CharSequence> values = headers.getAll(HttpHeaderNames.CONTENT_LENGTH);
    try {
      long n = HttpUtil.normalizeAndGetContentLength(values, false, true);
      if (n != -1) {
        headers.setLong(HttpHeaderNames.CONTENT_LENGTH, n);
      }
      return n;
    } catch (IllegalArgumentException e) {
      throw streamError(streamId, PROTOCOL_ERROR, e, "Multiple content-length headers received");
    }
  }

  @Override
  public int onDataRead(ChannelHandlerContext ctx, int streamId, ByteBuf data, int padding, boolean endStream)
      throws Http2Exception {
    int bytes = data.readableBytes();
    int total = bytes + padding;
    connRecvWindow -= total;
    if (connRecvWindow < 0) {
      throw connectionError(FLOW_CONTROL_ERROR, "Flow control window exceeded for the connection");
    }
    if (endStream || bytes > 0) {
      emptyDataFrames = 0;
    } else if (++emptyDataFrames > config.h2MaxConsecutiveEmptyFrames && config.h2MaxConsecutiveEmptyFrames > 0) {
      config.h2Stats.inboundEmptyFramesFlood().inc();
      throw connectionError(ENHANCE_YOUR_CALM, "Maximum number %d of empty data frames without end_of_stream flag received", config.h2MaxConsecutiveEmptyFrames);
    }
    Http2ServerStream s = streams.get(streamId);
    if (s == null || s.remoteEnded) {
      returnToConnection(total);
      if (s == null && streamId > lastStreamId) {
        throw connectionError(PROTOCOL_ERROR, "Stream %d does not exist", streamId);
      }
      if (s == null && ((goAwaySent && streamId > goAwayLastStreamId) || recentlyReset(streamId))) {
        return total;
      }
      throw streamError(streamId, STREAM_CLOSED, "Received DATA frame for a closed stream %d", streamId);
    }
    s.recvWindow -= total;
    if (s.recvWindow < 0) {
      returnToConnection(total);
      throw streamError(streamId, FLOW_CONTROL_ERROR, "Flow control window exceeded for stream: %d", streamId);
    }
    s.received += bytes;
    if (s.contentLength >= 0 && (s.received > s.contentLength || (endStream && s.received != s.contentLength))) {
      returnToConnection(total);
      throw streamError(streamId, PROTOCOL_ERROR, "Received amount of data %d does not match content-length header %d", s.received, s.contentLength);
    }
    if (endStream) {
      s.remoteEnded = true;
    }
    int now;
    try {
      now = padding + s.onData(data.retain(), endStream);
    } catch (RuntimeException e) {
      Log.error("http2", "stream " + streamId + " failed on its request body: " + e);
      s.resetOnError();
      now = total;
    }
    consume(s, now);
    if (endStream && !s.closed && s.endSent) {
      closeStream(s);
    }
    return 0; // flow control is ours: the reader's return value is not used
  }

  @Override
  public void onRstStreamRead(ChannelHandlerContext ctx, int streamId, long errorCode) throws Http2Exception {
    Http2ServerStream s = streams.get(streamId);
    if (s == null) {
      if (streamId > lastStreamId) {
        throw connectionError(PROTOCOL_ERROR, "Stream %d does not exist", streamId);
      }
      return;
    }
    s.onPeerReset();
    closeStream(s);
  }

  @Override
  public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int increment) throws Http2Exception {
    if (streamId == 0) {
      long w = connSendWindow + increment;
      if (w > MAX_WINDOW) {
        throw connectionError(FLOW_CONTROL_ERROR, "Window size overflow for the connection");
      }
      connSendWindow = w;
      sendQueued();
      flushSoon();
      return;
    }
    Http2ServerStream s = streams.get(streamId);
    if (s == null) {
      if (streamId > lastStreamId) {
        throw connectionError(PROTOCOL_ERROR, "Stream %d does not exist", streamId);
      }
      return;
    }
    long w = (long) s.sendWindow + increment;
    if (w > MAX_WINDOW) {
      throw streamError(streamId, FLOW_CONTROL_ERROR, "Window size overflow for stream: %d", streamId);
    }
    s.sendWindow = (int) w;
    if (s.hasQueued()) {
      sendQueued(s, Integer.MAX_VALUE);
    }
    updateWritability(s);
    flushSoon();
  }

  @Override
  public void onPushPromiseRead(ChannelHandlerContext ctx, int streamId, int promisedStreamId, Http2Headers headers, int padding)
      throws Http2Exception {
    throw connectionError(PROTOCOL_ERROR, "A client cannot push.");
  }

  @Override
  public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode, ByteBuf debugData) {}

  // ------------------------------------------------------------------ flow control, receiving

  /** Hands {@code bytes} of a stream's received data back to the peer's windows. */
  void consume(Http2ServerStream s, int bytes) {
    if (bytes <= 0 || dead) {
      return;
    }
    returnToConnection(bytes);
    if (!s.closed && !s.remoteEnded) {
      s.recvUnacked += bytes;
      if (s.recvUnacked >= recvInitialWindow / 2) {
        writeWindowUpdate(s.id(), s.recvUnacked);
        s.recvWindow += s.recvUnacked;
        s.recvUnacked = 0;
        flushSoon();
      }
    }
  }

  private void returnToConnection(int bytes) {
    if (bytes <= 0 || dead) {
      return;
    }
    connRecvUnacked += bytes;
    if (connRecvUnacked >= connRecvTarget / 2) {
      writeWindowUpdate(0, connRecvUnacked);
      connRecvWindow += connRecvUnacked;
      connRecvUnacked = 0;
      flushSoon();
    }
  }

  // ------------------------------------------------------------------ writing, for the streams

  void writeHeaders(Http2ServerStream s, Http2Headers headers, boolean endStream) {
    if (s.closed || dead) {
      return;
    }
    if (s.hasQueued()) {
      s.queuedTrailers = headers; // after the queued DATA (only trailers can follow DATA)
      s.queuedEnd = true;
      return;
    }
    encodeHeaders(s.id(), headers, endStream);
    if (endStream) {
      localEnd(s);
    }
    flushSoon();
  }

  /** Writes body bytes (ownership passes here), queued for window as needed. */
  void writeData(Http2ServerStream s, ByteBuf data, boolean endStream) {
    if (s.closed || dead) {
      data.release();
      return;
    }
    int n = data.readableBytes();
    if (!s.hasQueued() && (n == 0 || (n <= s.sendWindow && n <= connSendWindow))) {
      writeDataFrames(s, data, endStream);
      if (endStream) {
        localEnd(s);
      }
    } else {
      s.queue(data, endStream);
      if (!s.inQueue) {
        s.inQueue = true;
        queued.add(s);
      }
      sendQueued(s, Integer.MAX_VALUE);
    }
    updateWritability(s);
    flushSoon();
  }

  /** Resets a stream: an error drops its queued DATA; NO_ERROR (response done) sends it first. */
  void writeReset(Http2ServerStream s, Http2Error error) {
    if (s.closed) {
      return;
    }
    if (error == NO_ERROR && s.hasQueued()) {
      s.resetAfterQueue = true;
      return;
    }
    writeRst(s.id(), error);
    closeStream(s);
    flushSoon();
  }

  /**
   * Whether the stream takes more response bytes: its queue is under the high mark (back under the
   * low mark once it went over) and the socket is writable. Changes are reported as they happen.
   */
  boolean writableNow(Http2ServerStream s) {
    if (s.closed || !ctx.channel().isWritable()) {
      return false;
    }
    return s.reportedWritable ? s.queuedBytes < QUEUE_HIGH : s.queuedBytes <= QUEUE_LOW;
  }

  private void updateWritability(Http2ServerStream s) {
    boolean w = writableNow(s);
    if (w != s.reportedWritable && !s.closed) {
      s.reportedWritable = w;
      s.onWritabilityChanged(w);
    }
  }

  private void updateAllWritability() {
    if (streams.isEmpty()) {
      return;
    }
    for (Http2ServerStream s : new ArrayList<>(streams.values())) {
      updateWritability(s);
    }
  }

  /** Sends the queued DATA of every waiting stream the windows allow, in turns. */
  private void sendQueued() {
    boolean progress = true;
    while (progress && !queued.isEmpty()) {
      progress = false;
      for (int n = queued.size(); n > 0; n--) {
        Http2ServerStream s = queued.poll();
        s.inQueue = false;
        if (s.closed || !s.hasQueued()) {
          continue;
        }
        long before = connSendWindow;
        sendQueued(s, QUANTUM);
        progress |= connSendWindow != before || !s.hasQueued();
        if (s.hasQueued() && !s.closed) {
          s.inQueue = true;
          queued.add(s);
        }
        updateWritability(s);
      }
    }
  }

  /** Sends up to {@code budget} bytes of a stream's queued DATA, as its windows allow. */
  private void sendQueued(Http2ServerStream s, int budget) {
    ArrayDeque<ByteBuf> q = s.queue;
    while (q != null && !q.isEmpty()) {
      ByteBuf b = q.peek();
      int n = b.readableBytes();
      long allowed = Math.min(Math.min(s.sendWindow, connSendWindow), budget);
      boolean last = q.size() == 1;
      if (n == 0 || n <= allowed) {
        q.poll();
        budget -= n;
        s.queuedBytes -= n;
        writeDataFrames(s, b, last && s.queuedEnd && s.queuedTrailers == null);
        continue;
      }
      if (allowed <= 0) {
        return;
      }
      s.queuedBytes -= (int) allowed;
      writeDataFrames(s, b.readRetainedSlice((int) allowed), false);
      return;
    }
    if (s.queuedEnd) {
      s.queuedEnd = false;
      Http2Headers trailers = s.queuedTrailers;
      s.queuedTrailers = null;
      if (trailers != null) {
        encodeHeaders(s.id(), trailers, true);
      }
      localEnd(s);
    }
    if (s.resetAfterQueue && !s.closed) {
      writeRst(s.id(), NO_ERROR);
      closeStream(s);
    }
  }

  private void writeDataFrames(Http2ServerStream s, ByteBuf data, boolean endStream) {
    int n = data.readableBytes();
    s.sendWindow -= n;
    connSendWindow -= n;
    int id = s.id();
    do {
      int len = Math.min(data.readableBytes(), remoteMaxFrameSize);
      boolean last = len == data.readableBytes();
      ByteBuf o = out();
      frameHeader(o, len, Http2FrameTypes.DATA, last && endStream ? Http2Flags.END_STREAM : 0, id);
      if (len <= COPY_MAX) {
        o.writeBytes(data, len);
      } else {
        emit(ctx.voidPromise());
        ctx.write(data.readRetainedSlice(len), ctx.voidPromise());
        unflushed = true;
      }
    } while (data.isReadable());
    data.release();
  }

  private void localEnd(Http2ServerStream s) {
    s.endSent = true;
    if (s.remoteEnded && !s.closed) {
      closeStream(s);
    }
  }

  private void closeStream(Http2ServerStream s) {
    if (s.closed) {
      return;
    }
    s.closed = true;
    streams.remove(s.id());
    s.releaseQueue();
    returnToConnection(s.takeUnconsumed()); // delivered while paused, never handed back
    if (idleTimer != null) {
      idleTimer.requestEnded();
    }
    s.onCodecClosed();
    if (closePromise != null && streams.isEmpty()) {
      finishClose();
    }
  }

  // ------------------------------------------------------------------ frames out

  private ByteBuf out() {
    ByteBuf o = out;
    if (o == null) {
      o = out = ctx.alloc().directBuffer(1024);
    }
    return o;
  }

  private static void frameHeader(ByteBuf o, int length, byte type, int flags, int streamId) {
    o.ensureWritable(Http2CodecUtil.FRAME_HEADER_LENGTH + length);
    o.writeMedium(length);
    o.writeByte(type);
    o.writeByte(flags);
    o.writeInt(streamId);
  }

  private void encodeHeaders(int streamId, Http2Headers headers, boolean endStream) {
    ByteBuf o = out();
    int start = o.writerIndex();
    o.ensureWritable(256);
    o.writerIndex(start + Http2CodecUtil.FRAME_HEADER_LENGTH);
    try {
      hpack.encodeHeaders(streamId, headers, o);
    } catch (Http2Exception e) {
      o.writerIndex(start);
      failConnection(INTERNAL_ERROR, "header encoding failed: " + e.getMessage(), false);
      return;
    }
    int len = o.writerIndex() - start - Http2CodecUtil.FRAME_HEADER_LENGTH;
    int end = endStream ? Http2Flags.END_STREAM : 0;
    if (len <= remoteMaxFrameSize) {
      o.setMedium(start, len);
      o.setByte(start + 3, Http2FrameTypes.HEADERS);
      o.setByte(start + 4, Http2Flags.END_HEADERS | end);
      o.setInt(start + 5, streamId);
      return;
    }
    // A block over the peer's frame size: HEADERS then CONTINUATION frames.
    byte[] block = new byte[len];
    o.getBytes(start + Http2CodecUtil.FRAME_HEADER_LENGTH, block);
    o.writerIndex(start);
    int off = 0;
    boolean first = true;
    while (off < len) {
      int n = Math.min(remoteMaxFrameSize, len - off);
      boolean last = off + n == len;
      int flags = (last ? Http2Flags.END_HEADERS : 0) | (first ? end : 0);
      frameHeader(o, n, first ? Http2FrameTypes.HEADERS : Http2FrameTypes.CONTINUATION, flags, streamId);
      o.writeBytes(block, off, n);
      off += n;
      first = false;
    }
  }

  private boolean recentlyReset(int streamId) {
    for (int id : recentResets) {
      if (id == streamId) {
        return true;
      }
    }
    return false;
  }

  private void writeRst(int streamId, Http2Error error) {
    recentResets[recentResetsNext] = streamId;
    recentResetsNext = (recentResetsNext + 1) % recentResets.length;
    ByteBuf o = out();
    frameHeader(o, 4, Http2FrameTypes.RST_STREAM, 0, streamId);
    o.writeInt((int) error.code());
  }

  private void writeWindowUpdate(int streamId, int increment) {
    ByteBuf o = out();
    frameHeader(o, 4, Http2FrameTypes.WINDOW_UPDATE, 0, streamId);
    o.writeInt(increment);
  }

  private void writeSettings(Http2Settings settings) {
    ByteBuf o = out();
    frameHeader(o, 6 * settings.size(), Http2FrameTypes.SETTINGS, 0, 0);
    for (var e : settings.entries()) {
      o.writeShort(e.key());
      o.writeInt(e.value().intValue());
    }
  }

  private void writeSettingsAck() {
    frameHeader(out(), 0, Http2FrameTypes.SETTINGS, Http2Flags.ACK, 0);
  }

  private void writeGoAway(Http2Error error, String message) {
    byte[] debug = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
    ByteBuf o = out();
    frameHeader(o, 8 + debug.length, Http2FrameTypes.GO_AWAY, 0, 0);
    o.writeInt(lastStreamId);
    o.writeInt((int) error.code());
    o.writeBytes(debug);
    goAwaySent = true;
    goAwayLastStreamId = Math.min(goAwayLastStreamId, lastStreamId);
  }

  /** Hands the written frames to the channel (not flushed). */
  private void emit(ChannelPromise promise) {
    ByteBuf o = out;
    if (o != null && o.isReadable()) {
      out = null;
      ctx.write(o, promise);
      unflushed = true;
    } else if (!promise.isVoid()) {
      ctx.write(Unpooled.EMPTY_BUFFER, promise);
    }
  }

  /** Flushes the writes at the end of this connection's read, or once after the event-loop pass. */
  private void flushSoon() {
    if (reading || flushScheduled || dead) {
      return;
    }
    flushScheduled = true;
    ctx.executor().execute(scheduledFlush);
  }

  private void flushNow() {
    if (ctx == null || !ctx.channel().isActive()) {
      return;
    }
    emit(ctx.voidPromise());
    if (unflushed) {
      unflushed = false;
      ctx.flush();
    }
  }

  // ------------------------------------------------------------------ GOAWAY and close

  /** GOAWAY naming the last stream opened so far: the client opens no more; the open ones finish. */
  private void goAwayNoError() {
    if (!goAwaySent && !dead) {
      writeGoAway(NO_ERROR, null);
      flushNow();
    }
  }

  /**
   * A close asked of the channel (drain, idle timeout, connection limits) is graceful: GOAWAY, then
   * the socket closes once the open streams end (or after {@link #GRACEFUL_CLOSE_MS}).
   */
  @Override
  public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
    if (dead || !ctx.channel().isActive()) {
      ctx.close(promise);
      return;
    }
    if (closePromise != null) {
      ctx.channel().closeFuture().addListener(f -> promise.trySuccess());
      return;
    }
    closePromise = promise.unvoid();
    if (!goAwaySent) {
      writeGoAway(NO_ERROR, null);
    }
    flushNow();
    if (streams.isEmpty()) {
      finishClose();
    } else {
      closeTimeout = ctx.executor().schedule(this::finishClose, GRACEFUL_CLOSE_MS, TimeUnit.MILLISECONDS);
    }
  }

  private void finishClose() {
    if (closeTimeout != null) {
      closeTimeout.cancel(false);
      closeTimeout = null;
    }
    closeAfterWrites(closePromise);
  }

  /** Flushes what was written, then closes the socket once it is out; nothing more is read or written. */
  private void closeAfterWrites(ChannelPromise closed) {
    dead = true;
    ChannelPromise written = ctx.newPromise();
    emit(written);
    unflushed = false;
    ctx.flush();
    written.addListener(f -> ctx.close(closed));
  }

  @Override
  public void bind(ChannelHandlerContext ctx, SocketAddress localAddress, ChannelPromise promise) {
    ctx.bind(localAddress, promise);
  }

  @Override
  public void connect(ChannelHandlerContext ctx, SocketAddress remote, SocketAddress local, ChannelPromise promise) {
    ctx.connect(remote, local, promise);
  }

  @Override
  public void disconnect(ChannelHandlerContext ctx, ChannelPromise promise) {
    close(ctx, promise);
  }

  @Override
  public void deregister(ChannelHandlerContext ctx, ChannelPromise promise) {
    ctx.deregister(promise);
  }

  @Override
  public void read(ChannelHandlerContext ctx) {
    ctx.read();
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    // Nothing above this handler writes to the socket; should anything, it goes after our frames.
    emit(ctx.voidPromise());
    ctx.write(msg, promise);
  }

  @Override
  public void flush(ChannelHandlerContext ctx) {
    emit(ctx.voidPromise());
    unflushed = false;
    ctx.flush();
  }
}
