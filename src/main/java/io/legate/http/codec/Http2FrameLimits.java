package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.util.ReferenceCountUtil;

/**
 * Envoy's HTTP/2 flood limits that Netty's codec does not have, enforced on the raw frame stream
 * between the socket (or TLS) and the HTTP/2 codec. It reads frame headers only and passes every
 * byte on untouched.
 *
 * <ul>
 *   <li>{@code max_outbound_control_frames}: PING, SETTINGS and RST_STREAM frames written that
 *       have not yet reached the socket (a peer that provokes acks and does not read them).
 *       Exceeding it closes the connection ({@code http2.outbound_control_flood}).
 *   <li>{@code max_outbound_frames}: frames the codec has written that have not yet reached the
 *       socket (a peer that does not read). Exceeding it closes the connection ({@code
 *       http2.outbound_flood}).
 *   <li>{@code max_inbound_priority_frames_per_stream}: more than {@code limit * (1 + opened
 *       streams)} PRIORITY frames ({@code http2.inbound_priority_frames_flood}).
 *   <li>{@code max_inbound_window_update_frames_per_data_frame_sent}: more than {@code 5 + 2 *
 *       (opened streams + limit * DATA frames sent)} WINDOW_UPDATE frames ({@code
 *       http2.inbound_window_update_frames_flood}).
 * </ul>
 *
 * An inbound flood is handed to the codec as a connection error, which answers GOAWAY
 * ENHANCE_YOUR_CALM and closes. Confined to the connection's event loop.
 */
final class Http2FrameLimits extends ChannelDuplexHandler {
  private static final int DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PING = 6, WINDOW_UPDATE = 8;

  private final int maxOutboundFrames;
  private final int maxOutboundControlFrames;
  private final long maxPriorityPerStream;
  private final long maxWindowUpdatesPerDataFrame;
  private final Http2CodecStats stats;
  private final FrameScanner in = new FrameScanner(Http2CodecUtil.connectionPrefaceBuf().readableBytes());
  private final FrameScanner out = new FrameScanner(0);
  private int outstanding;
  private int outstandingControl;
  /** Control frames seen by the outbound scan of the current write. */
  private int controlInWrite;
  private long dataFramesSent;
  private long openedStreams;
  private int lastStreamId;
  private long priorityFrames;
  private long windowUpdateFrames;
  private boolean flooded;
  private final ChannelFutureListener written = f -> outstanding--;

  Http2FrameLimits(
      int maxOutboundFrames,
      int maxOutboundControlFrames,
      long maxPriorityPerStream,
      long maxWindowUpdatesPerDataFrame,
      Http2CodecStats stats) {
    this.maxOutboundFrames = maxOutboundFrames;
    this.maxOutboundControlFrames = maxOutboundControlFrames;
    this.maxPriorityPerStream = maxPriorityPerStream;
    this.maxWindowUpdatesPerDataFrame = maxWindowUpdatesPerDataFrame;
    this.stats = stats;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (flooded) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof ByteBuf b) {
      String why = in.scan(b, this::onInboundFrame);
      if (why != null) {
        flooded = true;
        ReferenceCountUtil.release(msg);
        ctx.fireExceptionCaught(Http2Exception.connectionError(Http2Error.ENHANCE_YOUR_CALM, why));
        return;
      }
    }
    ctx.fireChannelRead(msg);
  }

  /** Counts one inbound frame; returns why the connection floods, or null. */
  private String onInboundFrame(int type, int flags, int streamId) {
    switch (type) {
      case HEADERS -> {
        if (streamId > lastStreamId) {
          lastStreamId = streamId;
          openedStreams++;
        }
      }
      case PRIORITY -> {
        if (++priorityFrames > maxPriorityPerStream * (1 + openedStreams)) {
          stats.inboundPriorityFramesFlood().inc();
          return "Too many PRIORITY frames";
        }
      }
      case WINDOW_UPDATE -> {
        if (++windowUpdateFrames > 5 + 2 * (openedStreams + maxWindowUpdatesPerDataFrame * dataFramesSent)) {
          stats.inboundWindowUpdateFramesFlood().inc();
          return "Too many WINDOW_UPDATE frames";
        }
      }
      default -> {}
    }
    return null;
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!(msg instanceof ByteBuf b) || flooded) {
      ctx.write(msg, promise);
      return;
    }
    int before = out.frames;
    controlInWrite = 0;
    out.scan(b, this::onOutboundFrame);
    int frames = out.frames - before;
    if (frames == 0) {
      ctx.write(msg, promise);
      return;
    }
    int control = controlInWrite;
    outstanding += frames;
    outstandingControl += control;
    ChannelPromise p = promise.unvoid();
    p.addListener(
        frames == 1 && control == 0
            ? written
            : f -> {
              outstanding -= frames;
              outstandingControl -= control;
            });
    ctx.write(msg, p);
    if (outstanding > maxOutboundFrames || (maxOutboundControlFrames > 0 && outstandingControl > maxOutboundControlFrames)) {
      ctx.flush(); // what the socket takes now is no longer queued
      if (flooded) {
        return;
      }
      if (maxOutboundControlFrames > 0 && outstandingControl > maxOutboundControlFrames) {
        flooded = true;
        stats.outboundControlFlood().inc();
        ctx.close();
      } else if (outstanding > maxOutboundFrames) {
        flooded = true;
        stats.outboundFlood().inc();
        ctx.close();
      }
    }
  }

  private String onOutboundFrame(int type, int flags, int streamId) {
    if (type == DATA) {
      dataFramesSent++;
    } else if (type == PING || type == SETTINGS || type == RST_STREAM) {
      controlInWrite++;
    }
    return null;
  }

  /** What to do with each frame header seen. */
  @FunctionalInterface
  private interface FrameSink {
    /** Returns why the connection must close, or null. */
    String onFrame(int type, int flags, int streamId);
  }

  /** Finds frame headers in a byte stream split arbitrarily across buffers. */
  private static final class FrameScanner {
    private final byte[] head = new byte[9];
    private int headLength;
    private long skip;
    int frames;

    FrameScanner(long initialSkip) {
      this.skip = initialSkip;
    }

    String scan(ByteBuf b, FrameSink sink) {
      int i = b.readerIndex();
      int end = b.writerIndex();
      while (i < end) {
        if (skip > 0) {
          int n = (int) Math.min(skip, end - i);
          i += n;
          skip -= n;
          continue;
        }
        head[headLength++] = b.getByte(i++);
        if (headLength == head.length) {
          headLength = 0;
          frames++;
          skip = ((head[0] & 0xffL) << 16) | ((head[1] & 0xffL) << 8) | (head[2] & 0xffL);
          int streamId = ((head[5] & 0x7f) << 24) | ((head[6] & 0xff) << 16) | ((head[7] & 0xff) << 8) | (head[8] & 0xff);
          String why = sink.onFrame(head[3] & 0xff, head[4] & 0xff, streamId);
          if (why != null) {
            return why;
          }
        }
      }
      return null;
    }
  }
}
