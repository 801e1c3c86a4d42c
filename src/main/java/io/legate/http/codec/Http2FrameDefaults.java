package io.legate.http.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Flags;
import io.netty.handler.codec.http2.Http2FrameListener;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * What both HTTP/2 connections (downstream {@link Http2ServerConnection}, upstream {@link
 * Http2Codec}) do with the frames neither acts on: priorities are ignored (as Envoy; RFC 9113
 * deprecates them), so HEADERS with priority fields are plain HEADERS; PING acks and unknown frame
 * types are dropped.
 */
public interface Http2FrameDefaults extends Http2FrameListener {
  @Override
  default void onHeadersRead(
      ChannelHandlerContext ctx,
      int streamId,
      Http2Headers headers,
      int streamDependency,
      short weight,
      boolean exclusive,
      int padding,
      boolean endStream)
      throws Http2Exception {
    onHeadersRead(ctx, streamId, headers, padding, endStream);
  }

  @Override
  default void onPriorityRead(ChannelHandlerContext ctx, int streamId, int streamDependency, short weight, boolean exclusive) {}

  @Override
  default void onPingAckRead(ChannelHandlerContext ctx, long data) {}

  @Override
  default void onUnknownFrame(ChannelHandlerContext ctx, byte frameType, int streamId, Http2Flags flags, ByteBuf payload) {}
}
