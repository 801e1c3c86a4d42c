package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.AbstractHttp2ConnectionHandlerBuilder;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2ConnectionDecoder;
import io.netty.handler.codec.http2.Http2ConnectionEncoder;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2RemoteFlowController;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;

/**
 * An HTTP/2 client connection (the upstream pools') whose streams are plain objects of type {@code
 * S} attached to Netty's stream state: Netty's {@link Http2ConnectionHandler} does the frames,
 * HPACK, flow control and limits; subclasses receive frames as listener calls and write through
 * the helpers here. The downstream side has its own leaner connection, {@link
 * Http2ServerConnection}.
 *
 * <p>The helpers' writes are flushed together, once: at the end of this connection's read when
 * they were made while it read (Netty's handler flushes there), else by one task after the
 * event-loop pass's I/O events (a pass that delivers the responses of many upstream connections
 * writes them all with one flow-controller pass and one system call). No flush-consolidation
 * handler is needed in front of these codecs.
 */
public abstract class Http2Codec<S> extends Http2ConnectionHandler implements Http2FrameDefaults {
  private final Http2Connection.PropertyKey streamKey;
  protected ChannelHandlerContext ctx;
  /** Inside this connection's read: its end flushes whatever was written. */
  private boolean reading;
  private boolean flushScheduled;
  private final Runnable scheduledFlush =
      () -> {
        flushScheduled = false;
        flush(ctx);
      };

  protected Http2Codec(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings) {
    super(decoder, encoder, settings);
    this.streamKey = connection().newKey();
    decoder.frameListener(this);
    connection()
        .addListener(
            new Http2ConnectionAdapter() {
              @Override
              public void onStreamClosed(Http2Stream stream) {
                S s = stream.getProperty(streamKey);
                if (s != null) {
                  streamClosed(s);
                }
              }
            });
    encoder
        .flowController()
        .listener(
            new Http2RemoteFlowController.Listener() {
              @Override
              public void writabilityChanged(Http2Stream stream) {
                S s = stream.getProperty(streamKey);
                if (s != null) {
                  Http2Codec.this.writabilityChanged(s, encoder.flowController().isWritable(stream));
                }
              }
            });
  }

  /**
   * A connection whose streams with data queued share the send window evenly: priorities are not
   * used (as Envoy; RFC 9113 deprecates them), which spares the weighted tree's per-write work.
   */
  public static DefaultHttp2Connection newConnection(boolean server) {
    DefaultHttp2Connection connection = new DefaultHttp2Connection(server);
    connection.remote().flowController(new DefaultHttp2RemoteFlowController(connection, new UniformStreamByteDistributor(connection)));
    return connection;
  }

  /** Makes the handler from the decoder and encoder Netty's builder assembled. */
  @FunctionalInterface
  protected interface Factory<C> {
    C create(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings);
  }

  /**
   * Netty's builder set up for these codecs: a connection from {@link #newConnection}, the given
   * settings, header validation on.
   */
  protected static final class Builder<C extends Http2Codec<?>> extends AbstractHttp2ConnectionHandlerBuilder<C, Builder<C>> {
    private final Factory<C> factory;

    public Builder(boolean server, Http2Settings settings, Factory<C> factory) {
      this.factory = factory;
      connection(newConnection(server));
      initialSettings(settings);
      validateHeaders(true);
    }

    /**
     * Envoy's flood limits that Netty enforces itself: a peer that does not read the PING/SETTINGS
     * acks and resets it provokes, or sends runs of empty DATA frames, loses the connection with
     * GOAWAY ENHANCE_YOUR_CALM. Netty's resets-per-window rule is off: rapid reset is judged as
     * Envoy does (premature resets per connection), by the caller.
     */
    public Builder<C> floodLimits(int maxQueuedControlFrames, int maxConsecutiveEmptyDataFrames) {
      encoderEnforceMaxQueuedControlFrames(maxQueuedControlFrames);
      decoderEnforceMaxConsecutiveEmptyDataFrames(maxConsecutiveEmptyDataFrames);
      decoderEnforceMaxRstFramesPerWindow(0, 0);
      return this;
    }

    @Override
    public C build() {
      return super.build();
    }

    @Override
    protected C build(Http2ConnectionDecoder decoder, Http2ConnectionEncoder encoder, Http2Settings settings) {
      return factory.create(decoder, encoder, settings);
    }
  }

  /** Netty closed a stream (both ends done, a reset either way, or the connection closed). */
  protected abstract void streamClosed(S stream);

  /** A stream's send window or the socket's writability changed. */
  protected abstract void writabilityChanged(S stream, boolean writable);

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) throws Exception {
    this.ctx = ctx;
    super.handlerAdded(ctx);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
    reading = true;
    super.channelRead(ctx, msg);
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
    reading = false;
    super.channelReadComplete(ctx); // flushes
  }

  /** Flushes the writes made so far, at the end of the read or of the event-loop pass. */
  protected final void flushSoon() {
    if (reading || flushScheduled) {
      return;
    }
    flushScheduled = true;
    ctx.executor().execute(scheduledFlush);
  }

  /** The stream object attached to {@code streamId}, or null (unknown, closed or not ours). */
  protected final S attached(int streamId) {
    Http2Stream st = connection().stream(streamId);
    return st == null ? null : st.getProperty(streamKey);
  }

  /** Attaches {@code s} to an open stream; false when Netty has no such stream (any more). */
  protected final boolean attach(int streamId, S s) {
    Http2Stream st = connection().stream(streamId);
    if (st == null) {
      return false;
    }
    st.setProperty(streamKey, s);
    return true;
  }

  /** Opens the connection window to {@code size} (SETTINGS only carries the streams' window). */
  public final void growConnectionWindow(int size) {
    int delta = size - Http2CodecUtil.DEFAULT_WINDOW_SIZE;
    if (delta <= 0 || ctx == null) {
      return;
    }
    try {
      connection().local().flowController().incrementWindowSize(connection().connectionStream(), delta);
      flush(ctx);
    } catch (Http2Exception e) {
      onError(ctx, false, e);
    }
  }

  public final void writeHeaders(int streamId, Http2Headers headers, boolean endStream) {
    encoder().writeHeaders(ctx, streamId, headers, 0, endStream, ctx.newPromise());
    flushSoon();
  }

  /** Writes body bytes (ownership passes to the encoder), queued by flow control as needed. */
  public final void writeData(int streamId, ByteBuf data, boolean endStream) {
    encoder().writeData(ctx, streamId, data, 0, endStream, ctx.newPromise());
    flushSoon();
  }

  public final void writeReset(int streamId, Http2Error error) {
    try {
      // What the stream wrote before goes out first: the reset would drop its queued DATA.
      encoder().flowController().writePendingBytes();
    } catch (Http2Exception e) {
      onError(ctx, true, e);
    }
    resetStream(ctx, streamId, error.code(), ctx.newPromise());
    flushSoon();
  }

  /** Hands {@code bytes} of a stream's received data back to the peer's window. */
  public final void consume(int streamId, int bytes) {
    Http2Stream s = connection().stream(streamId);
    if (s == null || bytes <= 0) {
      return; // a closed stream's bytes went back to the connection window as it closed
    }
    try {
      if (connection().local().flowController().consumeBytes(s, bytes)) {
        flushSoon();
      }
    } catch (Http2Exception e) {
      onError(ctx, false, e);
    }
  }

  /** Whether the stream can send without queueing behind its window or the socket. */
  public final boolean isWritable(int streamId) {
    Http2Stream s = connection().stream(streamId);
    return s != null && encoder().flowController().isWritable(s);
  }

  @Override
  public void onSettingsAckRead(ChannelHandlerContext ctx) {}

  @Override
  public void onSettingsRead(ChannelHandlerContext ctx, Http2Settings settings) {}

  @Override
  public void onPingRead(ChannelHandlerContext ctx, long data) {}

  @Override
  public void onPushPromiseRead(ChannelHandlerContext ctx, int streamId, int promisedStreamId, Http2Headers headers, int padding) {}

  @Override
  public void onGoAwayRead(ChannelHandlerContext ctx, int lastStreamId, long errorCode, ByteBuf debugData) {}

  @Override
  public void onWindowUpdateRead(ChannelHandlerContext ctx, int streamId, int windowSizeIncrement) {}
}
