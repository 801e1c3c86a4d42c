package io.legate.admin;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/**
 * Serves one admin connection: each aggregated request is answered by {@link AdminEndpoints} on
 * the connection's event loop. {@link SimpleChannelInboundHandler} releases the request.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
  private final AdminEndpoints endpoints;

  AdminHandler(AdminEndpoints endpoints) {
    this.endpoints = endpoints;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    AdminResponse response;
    if (!request.decoderResult().isSuccess()) {
      response = AdminResponse.text(HttpResponseStatus.BAD_REQUEST, "bad request\n");
    } else {
      try {
        response = endpoints.handle(request.method(), request.uri());
      } catch (RuntimeException e) {
        response = AdminResponse.text(HttpResponseStatus.INTERNAL_SERVER_ERROR,
            "admin handler failed: " + e + "\n");
      }
    }
    boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
    ByteBuf body = ctx.alloc().buffer();
    body.writeCharSequence(response.body(), StandardCharsets.UTF_8);
    FullHttpResponse out =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, response.status(), body);
    out.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, response.contentType())
        .set(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes())
        .set(HttpHeaderNames.CACHE_CONTROL, "no-cache, max-age=0")
        .set("x-content-type-options", "nosniff");
    if (!keepAlive) {
      out.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    }
    Runnable after = response.afterWrite();
    var future = ctx.writeAndFlush(out);
    if (after != null) {
      future.addListener(f -> after.run());
    }
    if (!keepAlive) {
      future.addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
