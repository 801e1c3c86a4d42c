package io.legate.testing;

import io.legate.http.StreamInfo;
import io.legate.http.filter.DecoderCallbacks;
import io.legate.http.filter.EncoderCallbacks;
import io.legate.router.Route;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AttributeMap;
import io.netty.util.DefaultAttributeMap;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * Decoder and encoder callbacks for a filter under test: records local replies and continues, and
 * runs timers on an {@link EmbeddedChannel} whose time the test advances (no sleeping).
 */
public final class FakeFilterCallbacks implements DecoderCallbacks, EncoderCallbacks {
  /** A recorded local reply. */
  public record LocalReply(int status, String body, Http2Headers extraHeaders, int grpcStatus, String details) {}

  public final EmbeddedChannel channel = new EmbeddedChannel();
  public final StreamInfo info =
      new StreamInfo(0, 0, new InetSocketAddress("127.0.0.1", 5000), new InetSocketAddress("127.0.0.1", 80), "HTTP/1.1");
  public AttributeMap connection = new DefaultAttributeMap();
  public Route route;
  public LocalReply localReply;
  public int continueDecodingCalls;
  public int continueEncodingCalls;
  /** What the filter injected with injectDecodedData / injectEncodedData (the test releases them). */
  public final java.util.List<ByteBuf> injectedDecoded = new java.util.ArrayList<>();
  public final java.util.List<ByteBuf> injectedEncoded = new java.util.ArrayList<>();
  public boolean injectedEndStream;

  public FakeFilterCallbacks() {
    channel.freezeTime();
  }

  /** Advances the embedded loop's clock and runs the timers that are due. */
  public void advance(long ms) {
    channel.advanceTimeBy(ms, TimeUnit.MILLISECONDS);
    channel.runScheduledPendingTasks();
  }

  @Override
  public void continueDecoding() {
    continueDecodingCalls++;
  }

  @Override
  public void sendLocalReply(int status, String body, Http2Headers extraHeaders, String details) {
    sendLocalReply(status, body, extraHeaders, -1, details);
  }

  @Override
  public void sendLocalReply(int status, String body, Http2Headers extraHeaders, int grpcStatus, String details) {
    if (localReply != null) {
      throw new AssertionError("second local reply");
    }
    localReply = new LocalReply(status, body, extraHeaders, grpcStatus, details);
  }

  @Override
  public void encodeHeaders(Http2Headers headers, boolean endStream) {}

  @Override
  public void encodeData(ByteBuf data, boolean endStream) {
    data.release();
  }

  @Override
  public void encodeTrailers(Http2Headers trailers) {}

  @Override
  public void resetStream() {}

  @Override
  public Route route() {
    return route;
  }

  @Override
  public void clearRouteCache() {}

  @Override
  public StreamInfo streamInfo() {
    return info;
  }

  @Override
  public EventLoop eventLoop() {
    return channel.eventLoop();
  }

  @Override
  public void readDisable(boolean disable) {}

  @Override
  public boolean downstreamTls() {
    return false;
  }

  @Override
  public int bufferLimit() {
    return 1 << 20;
  }

  @Override
  public AttributeMap connectionAttributes() {
    return connection;
  }

  @Override
  public void injectDecodedData(ByteBuf data, boolean endStream) {
    injectedDecoded.add(data);
    injectedEndStream = endStream;
  }

  @Override
  public void injectEncodedData(ByteBuf data, boolean endStream) {
    injectedEncoded.add(data);
    injectedEndStream = endStream;
  }

  @Override
  public void continueEncoding() {
    continueEncodingCalls++;
  }
}
